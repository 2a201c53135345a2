/**
 * The job item is hot: every chunk completion adds to it in a transaction, and DynamoDB answers a
 * plain write to an item with a transaction in flight with TransactionConflictException (not
 * retried by the SDK). The job's plain updates (listing counts, progress mirror, counters) are
 * answered so once each here — by an SDK middleware in front of DynamoDB Local, as the throttle
 * fault of fault-injector.ts is; the retry then reaches the real table — and still apply, once.
 */
import { TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { processApp } from '../../shared/process-app';
import { addJobCounters, addListingCounts, createJob, getJob, mirrorProgress } from '../../shared/db/repo-jobs';
import { updateStorageStatus } from '../../shared/db/repo-storage-sync-state';
import { newTenant, useTestEnvironment } from '../integration/api-harness';
import { newProject, newStorage, storageOf } from '../integration/sync-helpers';
import { gatesBy } from './fault-injector';

let orgId: string;

beforeAll(async () => {
  useTestEnvironment();
  ({ orgId } = await newTenant('job-conflicts'));
});

/** Answers the first plain UpdateItem of each update expression on `jobId`'s item with a transaction conflict. */
function conflictOnce(jobId: string) {
  const gate = gatesBy(1);
  const seen = { conflicts: 0 };
  const stack = processApp().db.doc.middlewareStack;
  stack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { pk?: string; sk?: string }; UpdateExpression?: string };
      const command = String((context as { commandName?: string }).commandName ?? '');
      if (command === 'UpdateItemCommand' && input.Key?.pk === `JOB#${jobId}` && input.Key.sk === 'JOB' && gate(String(input.UpdateExpression)).pass()) {
        seen.conflicts++;
        throw new TransactionConflictException({ message: 'Transaction is ongoing for the item', $metadata: { httpStatusCode: 400 } });
      }
      return next(args);
    },
    { step: 'initialize', name: 'conflictOnce' },
  );
  return { seen, remove: () => stack.remove('conflictOnce') };
}

describe('plain updates of the hot job item', () => {
  it('are retried on TransactionConflictException and count once', async () => {
    const db = processApp().db;
    const projectId = await newProject(orgId);
    const storage = await newStorage(orgId, projectId, { type: 'localfiles', role: 'import', path: '/tmp', recursive_scan: true, use_blob_urls: false });
    const jobId = `conflict-${Date.now()}`;
    await createJob(db, { jobId, storageId: storage.id, role: 'import', ordered: true, sync_deletions: 'keep', trust_digests_of: null });
    await updateStorageStatus(db, storage.id, { status: 'in_progress', last_sync_job: jobId, meta: {} });
    const faults = conflictOnce(jobId);
    try {
      const counted = await addListingCounts(db, jobId, 0, { listed: 300, chunks: 3, skipped: 0, hardLinks: 0, unchangedChunks: 0, unchangedObjects: 0 }, true);
      expect(counted).toMatchObject({ listed: 300, chunks: 3, listDone: true });
      await addJobCounters(db, jobId, { processed: 100, created: 100 });
      await mirrorProgress(db, storage.id, jobId, 0);
    } finally {
      faults.remove();
    }
    expect(faults.seen.conflicts).toBe(3);
    expect(await getJob(db, jobId)).toMatchObject({ listed: 300, processed: 100, created: 100, chunks: 3 });
    expect((await storageOf(storage.id)).meta).toMatchObject({ objects_listed: 300, objects_processed: 100, objects_total: 300, percent: 33 });
  });
});
