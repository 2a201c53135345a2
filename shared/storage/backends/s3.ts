/** `s3`: Amazon S3 and S3-compatible stores with static keys or the runtime's own role. */
import { CLOUD_IMPORT_FIELDS } from './common-fields';
import type { BackendDefinition } from './definition';
import { buildS3Provider, S3_COMMON, S3_FIELDS, s3ShapeErrors } from './s3-common';

/** The `s3` storage type. */
export const s3Backend: BackendDefinition = {
  ...S3_COMMON,
  type: 's3',
  title: 'AWS S3',
  titleOrder: 0,
  fields: { ...S3_FIELDS, ...CLOUD_IMPORT_FIELDS },
  shapeErrors: (config, add) => s3ShapeErrors(config, add, false),
  build: (config, ctx) => buildS3Provider(config, ctx),
};
