/**
 * How many chunk references one listing step may return so that the sync state machine's state
 * stays under Step Functions' payload limit: past it the execution fails with
 * `States.DataLimitExceeded`, which no Catch on `States.ALL` sees, so the job would never be
 * finalized by the machine itself.
 */

/** Step Functions' maximum size of a state's input or output, in UTF-8 bytes of its JSON. */
export const STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024;

/** `{"jobId":"<36-char uuid>","chunk":<up to 9 digits>}` and the comma before the next one. */
export const MAX_CHUNK_REF_BYTES = '{"jobId":"","chunk":}'.length + 36 + 9 + 1;

/**
 * Everything else in the loop's state: ids, flags, counts and two copies of the listing token (it
 * carries the provider's continuation token and the last listed key, a few KiB at most).
 */
export const STATE_OVERHEAD_BYTES = 20 * 1024;

/**
 * The loop state holds two steps' references at once: the chunks being written (`pending`) and
 * those the step running beside them just listed (`step.list.chunks`).
 */
export const MAX_CHUNK_REFS_PER_STEP = Math.floor((STATE_PAYLOAD_LIMIT_BYTES - STATE_OVERHEAD_BYTES) / (2 * MAX_CHUNK_REF_BYTES));

/**
 * The chunk budget a step stops listing at. A step only stops between pages, so the last page's
 * chunks (and the listing's final open-ended chunk) come on top: half the references are kept for
 * them, enough for a 1,000-entry page (S3's and GCS's largest) cut into chunks of 2 objects.
 */
export const MAX_STEP_CHUNK_BUDGET = Math.floor(MAX_CHUNK_REFS_PER_STEP / 2);
