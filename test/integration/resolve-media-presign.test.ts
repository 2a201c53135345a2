/**
 * Presigned lifetimes through the resolve handler (real API Gateway v2 events, S3 presigner of
 * the emulator's storage): audio and video get at least the media lifetime, because the browser
 * sends every Range request of playback straight to the presigned URL; other objects keep
 * `presign_ttl`; S3's 7-day SigV4 maximum caps both.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as resolveHandler } from '../../functions/api/resolve';
import type { StorageItem } from '../../shared/db/items';
import { client, newTenant, patchApp, useTestEnvironment, type ApiHandler } from './api-harness';
import { addStorage, addTasks, patchStorage } from './resolve-helpers';
import { emulators, newProject } from './sync-helpers';

const BUCKET = `media-ttl-${Date.now().toString(36)}`;
let api: ReturnType<typeof client>;
let storage: StorageItem;
let taskId: number;

beforeAll(async () => {
  useTestEnvironment();
  const { orgId, token } = await newTenant('media-ttl');
  api = client(resolveHandler as unknown as ApiHandler, token);
  const s3 = emulators().s3;
  const projectId = await newProject(orgId, ['video']);
  storage = await addStorage(orgId, projectId, {
    type: 's3', role: 'import', bucket: BUCKET, s3_endpoint: s3.endpoint, region_name: s3.region, aws_access_key_id: s3.accessKeyId, aws_secret_access_key: s3.secretAccessKey,
  }, { presign: true, presign_ttl: 1 });
  [taskId] = await addTasks(orgId, projectId, [{ video: `s3://${BUCKET}/clips/a.mp4` }], { storageId: storage.id });
});

/** X-Amz-Expires of the presigned URL the resolve route redirects `key` to. */
async function expiresOf(key: string): Promise<number> {
  const r = await api('GET', `/tasks/${taskId}/resolve/?fileuri=${encodeURIComponent(`s3://${BUCKET}/${key}`)}`);
  expect(r.status, key).toBe(303);
  return Number(new URL(r.headers.location).searchParams.get('X-Amz-Expires'));
}

describe('presigned lifetime of streamed media', () => {
  it('gives video and audio the media lifetime (default 6 h), images and JSON presign_ttl', async () => {
    expect(await expiresOf('clips/a.mp4')).toBe(6 * 3600);
    expect(await expiresOf('clips/b.MOV')).toBe(6 * 3600);
    expect(await expiresOf('audio/c.mp3')).toBe(6 * 3600);
    expect(await expiresOf('audio/d.wav')).toBe(6 * 3600);
    expect(await expiresOf('img/e.jpg')).toBe(60);
    expect(await expiresOf('data/f.json')).toBe(60);
  });

  it('takes LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS, keeps a longer presign_ttl, and stays within the 7-day SigV4 maximum', async () => {
    patchApp({}, { LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS: '7200' });
    expect(await expiresOf('clips/a.mp4')).toBe(7200);
    await patchStorage(storage, { presign_ttl: 600 }); // 10 h > the media lifetime
    expect(await expiresOf('clips/a.mp4')).toBe(36_000);
    expect(await expiresOf('img/e.jpg')).toBe(36_000);
    patchApp({}, { LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS: String(30 * 86400) });
    expect(await expiresOf('clips/a.mp4')).toBe(7 * 86400);
    await patchStorage(storage, { presign_ttl: 1 });
  });
});
