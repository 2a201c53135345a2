/** Storage types whose notifications are pushed to labelsync over HTTP (Pub/Sub push, Event Grid). */
import type { StorageType } from '../../storage/types';

export const PUSH_TYPES = ['gcs', 'azure', 'azure_spi'] as const satisfies readonly StorageType[];
export type PushType = (typeof PUSH_TYPES)[number];

/** The path of a storage's push endpoint. */
export const pushPath = (type: PushType, id: number): string => `/api/storages/${type}/${id}/events`;
