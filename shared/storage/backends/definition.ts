/**
 * What a storage type IS, in one value: its title, the URI schemes it answers, its fields (zod
 * schema, default, secret, role), its shape rules, how its provider is built, how a key maps to
 * a task URI, where its exported annotations land and its location identity. One definition per
 * type lives in its own file in this folder and is listed once in `./index.ts`; the body and
 * response schemas, the OpenAPI components, the scheme table, storage matching, the export key
 * rule, the import-side skip rule and every secret list are derived from the definitions.
 */
import type { LookupFunction } from 'node:net';
import type { TokenCredential } from '@azure/identity';
import type { z } from 'zod';
import type { Env } from '../../config/env';
import type { FieldErrors } from '../../errors';
import type { ProviderSettings } from '../common';
import type { CheckedEndpoint } from '../endpoint-guard';
import type { StsLike } from '../sts';
import type { TenancyPolicy } from '../tenancy';
import type { StorageConfig, StorageProvider, StorageRole, StorageType } from '../types';

/** Hooks for tests and the local runtime (STS and Azure AD are not reachable offline). */
export interface StorageTestHooks {
  /** Replaces the STS client used for AssumeRole (S3 through an IAM role). */
  stsClient?: StsLike;
  /** STS endpoint (moto) for the real STS client; ignored when `stsClient` is set. */
  stsEndpoint?: string;
  /** Replaces the service principal's ClientSecretCredential (Azure). */
  azureTokenCredential?: TokenCredential;
  /** Extra CA (PEM) trusted by the Azure client (Azurite over HTTPS). */
  azureCa?: string;
  /** SAS version override for Azure (Azurite 3.35 needs 2025-11-05 for user-delegation SAS). */
  azureSasVersion?: string;
  /** Clock for cached credentials (STS expiry, delegation keys). */
  now?: () => number;
  /** STS DurationSeconds (default 3600). */
  stsDurationSeconds?: number;
}

/** One field of a storage type. */
export interface FieldSpec {
  /** Type-level schema of the value (shape rules beyond types live in `shapeErrors`). */
  schema: z.ZodType;
  /** OpenAPI description (attached to `schema` when the schemas are derived). */
  description?: string;
  /** Roles the field exists for (default both). */
  role?: StorageRole | 'both';
  /** Write-only: encrypted at rest, never returned (responses carry `has_<name>` instead). */
  secret?: boolean;
  /**
   * Says where the connection goes (endpoint, host, bucket, account, role): a body that changes
   * it must re-send the stored secrets, or they would be sent wherever the new value points.
   */
  connection?: boolean;
  /** A create/validate body without it fails the shape rules (checked by `shapeErrors`). */
  required?: boolean;
  /** Label Studio's default of a new storage (absent: null). */
  default?: unknown;
  /** Role-dependent default, used instead of `default`. */
  defaultByRole?: Partial<Record<StorageRole, unknown>>;
  /** Accepted and stored for client compatibility, read by nothing. */
  noEffect?: boolean;
}

/** Ordered field table of a type (insertion order is the response order). */
export type FieldTable = Readonly<Record<string, FieldSpec>>;

/** Everything a provider factory may use besides the config. */
export interface BuildContext {
  settings: ProviderSettings;
  hooks: StorageTestHooks;
  /** Used for the STS role session name `labelsync-<storageId>`. */
  storageId?: number;
  /** Ambient grants, external ids and assumable roles of the config's organization (`config.orgId`). */
  tenancy: TenancyPolicy;
  /** The endpoint guard under the settings' allow-list, reporting problems on `field`. */
  guard(endpoint: string, field: string): Promise<CheckedEndpoint>;
  /**
   * A user-supplied endpoint (blank: none), guarded, with a DNS lookup pinned to the checked
   * address so a later answer cannot redirect the client.
   */
  pinnedEndpoint(value: unknown, field: string): Promise<{ endpoint?: string; lookup?: LookupFunction }>;
  /** Options every provider takes. */
  common: CommonProviderOptions;
}

/** Options every provider constructor takes. */
export interface CommonProviderOptions {
  regexFilter: string | null | undefined;
  recursive: boolean;
  maxReadBytes: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * Where a storage reads or writes, for storage matching and the target-prefix skip rule: two
 * storages of one family on the same place and endpoint share their keys.
 */
export interface LocationRule {
  /** Types of one family (e.g. both S3 types) share buckets. */
  family: string;
  /** Bucket, container, host or directory of a stored field map. */
  place(fields: Record<string, unknown>, role: StorageRole): string;
  /** Endpoint part of the identity ('' when the type has none or it does not matter). */
  endpoint?(fields: Record<string, unknown>, role: StorageRole): string;
  /**
   * Places are directories whose keys are relative to them: a target directory inside the
   * source's writes under the relative subpath (equal places are not nested).
   */
  nested?: boolean;
}

/** URI schemes of task data a storage of this type resolves (cloud types). */
export interface ResolvableUris {
  /** Schemes answered, e.g. `s3`; several types may share one. */
  schemes: readonly string[];
  /** Field naming the bucket/container a URI's authority must equal. */
  bucketField: string;
}

/** A boolean switch of the parsed environment (e.g. `localFilesStorageEnabled`). */
export type EnvSwitch = { [K in keyof Env]-?: Env[K] extends boolean ? K : never }[keyof Env];

/**
 * Optional behaviour of a type, declared here so that the API, export and resolve code read the
 * definition instead of naming a type (`./capabilities.ts` applies them).
 */
export interface BackendCapabilities {
  /** Listing comes in lexicographic key order. */
  orderedListing?: boolean;
  /** Objects can be handed out as presigned URLs. */
  presign?: boolean;
  /** `uriFor` returns a path on this service (prefix the public base URL). */
  relativeUri?: boolean;
  /**
   * The type exists only while this environment switch is on: otherwise `GET /api/storages/types`
   * omits it, its routes answer 404 and its storages are left out of storage lists.
   */
  enabledBy?: EnvSwitch;
  /**
   * Keys are relative to the storage's `path` field: the files preview shows them joined to it
   * (`<path>/<key>`, trailing slashes of the path dropped), as Label Studio does.
   */
  previewKeyWithPath?: boolean;
  /** Exported annotation documents are pretty-printed with this indent (absent: compact JSON). */
  exportJsonIndent?: number;
  /**
   * Storages read this host's filesystem under their `path` field: the `path`s of an
   * organization's import storages of such types bound what `/data/local-files` serves it.
   */
  servesHostFiles?: boolean;
  /**
   * Object notifications can drive `event_sync`: "managed" — delivered to the deployed stack (a
   * queue or push endpoint); "subscriber" — they need a long-lived process watching the storage,
   * which only the local runtime runs (env LABELSYNC_EVENT_SUBSCRIBERS). Absent: `event_sync` is refused.
   */
  eventSync?: 'managed' | 'subscriber';
}

/** The definition of one storage type. */
export interface BackendDefinition {
  type: StorageType;
  /** Shown by `GET /api/storages/types`. */
  title: string;
  /** Position in `GET /api/storages/types` (Label Studio's five first). */
  titleOrder: number;
  /** Type-specific fields in response order, common cloud fields included where they apply. */
  fields: FieldTable;
  /** Pushes the type's shape problems of `config` (pure, no network). */
  shapeErrors(config: StorageConfig, add: (field: string, message: string) => void): void;
  /** Builds the provider of a config that passed the shape rules. */
  build(config: StorageConfig, ctx: BuildContext): Promise<StorageProvider>;
  /** The URI a task points at for `key` (`documentRoot`: LOCAL_FILES_DOCUMENT_ROOT). */
  uriFor(config: StorageConfig, key: string, ctx: { documentRoot: string }): string;
  /** Normalised prefix (`a/b/` or '') exported annotations are written under. */
  exportKeyPrefix(config: StorageConfig): string;
  /** Task URIs this type answers; absent for types without a URI scheme. */
  resolves?: ResolvableUris;
  location: LocationRule;
  capabilities?: BackendCapabilities;
}

/** Field errors accumulator shared by the shape rules. */
export type AddFieldError = (field: string, message: string) => void;
export type { FieldErrors };
