/**
 * The export stream's event source mapping settings, defined once: the CDK construct
 * (lib/constructs/export-pipeline.ts) synthesizes them and the local poller of `npm start`
 * (local/stream-poller.ts) runs with them, so local batching and retries behave as in AWS.
 */
export const EXPORT_STREAM_SETTINGS = {
  batchSize: 100,
  /**
   * Lambda's MaximumBatchingWindowInSeconds: a batch is delivered when full or this long after its
   * first record, so at low traffic every save waits this long. 1 s keeps "saved → visible in the
   * target ≤ 2 s" in AWS as locally; a busy shard fills its batches of 100 long before.
   */
  batchingWindowSeconds: 1,
  /** Ordering is kept per item key at any factor; more parallel batches per shard for throughput (AWS only). */
  parallelizationFactor: 4,
  retryAttempts: 5,
  bisectOnError: true,
  /** Stream records live 24 h; give up well before that and leave the batch to the DLQ. */
  maxRecordAgeSeconds: 6 * 3600,
} as const;

/** DLQ messages handed to the replay function at once (SQS event source). */
export const EXPORT_DLQ_BATCH_SIZE = 10;
