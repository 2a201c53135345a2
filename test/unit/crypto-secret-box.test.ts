/**
 * Envelope encryption. The KMS box runs against moto's KMS when the global setup found moto;
 * without moto there is no KMS emulator on this machine, so (as with STS) an in-process KMS
 * stand-in answers GenerateDataKey/Decrypt, which is said here on purpose.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, inject, it } from 'vitest';
import { createKmsSecretBox, createLocalSecretBox, loadLocalMasterKey } from '../../shared/crypto/secret-box';
import { redactSecrets, redactText } from '../../shared/logging';

describe('local secret box', () => {
  it('round-trips, never contains the plaintext, and is randomised per encryption', async () => {
    const box = createLocalSecretBox(mkdtempSync(join(tmpdir(), 'box-')));
    const plain = JSON.stringify({ aws_secret_access_key: 'very-secret-value' });
    const a = await box.encrypt(plain);
    const b = await box.encrypt(plain);
    expect(a).not.toBe(b);
    expect(a).not.toContain('very-secret');
    expect(await box.decrypt(a)).toBe(plain);
  });

  it('creates the key file with mode 0600 once and reuses it across boxes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'box-'));
    const blob = await createLocalSecretBox(dir).encrypt('x');
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(await createLocalSecretBox(dir).decrypt(blob)).toBe('x');
    expect((await loadLocalMasterKey(dir)).length).toBe(32);
  });

  it('rejects tampered blobs and blobs of another key without revealing anything', async () => {
    const box = createLocalSecretBox(mkdtempSync(join(tmpdir(), 'box-')));
    const blob = await box.encrypt('secret-value');
    const parts = blob.split('.');
    const ct = Buffer.from(parts[2], 'base64url');
    ct[0] ^= 1;
    parts[2] = ct.toString('base64url');
    await expect(box.decrypt(parts.join('.'))).rejects.toThrow(/could not be decrypted/);
    const otherBox = createLocalSecretBox(mkdtempSync(join(tmpdir(), 'box-')));
    await expect(otherBox.decrypt(blob)).rejects.not.toThrow(/secret-value/);
    await expect(box.decrypt('garbage')).rejects.toThrow();
  });
});

/** A minimal KMS for machines without moto: wraps data keys with a process-local key. */
function kmsStandIn(): { client: KMSClient; keyId: string; calls: string[] } {
  const master = randomBytes(32);
  const calls: string[] = [];
  const client = {
    async send(cmd: { constructor: { name: string }; input: { CiphertextBlob?: Uint8Array } }) {
      calls.push(cmd.constructor.name);
      if (cmd.constructor.name === 'GenerateDataKeyCommand') {
        const plain = randomBytes(32);
        const iv = randomBytes(12);
        const c = createCipheriv('aes-256-gcm', master, iv);
        const wrapped = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
        return { Plaintext: plain, CiphertextBlob: wrapped };
      }
      const blob = Buffer.from(cmd.input.CiphertextBlob!);
      const d = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
      d.setAuthTag(blob.subarray(blob.length - 16));
      return { Plaintext: Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]) };
    },
  } as unknown as KMSClient;
  return { client, keyId: 'stand-in', calls };
}

describe('KMS secret box', () => {
  it('generates one data key per process and unwraps each wrapped key once', async () => {
    const sts = inject('emulators').sts;
    let client: KMSClient;
    let keyId: string;
    let calls: string[] | undefined;
    if (sts) {
      // moto serves every AWS API on one endpoint, KMS included.
      client = new KMSClient({ endpoint: sts.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
      keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
      const real = client.send.bind(client);
      calls = [];
      const log = calls;
      client.send = ((cmd: { constructor: { name: string } }) => {
        log.push(cmd.constructor.name);
        return real(cmd as never);
      }) as typeof client.send;
    } else {
      ({ client, keyId, calls } = kmsStandIn());
    }
    const writer = createKmsSecretBox({ keyId, region: 'us-east-1', client });
    const blobs = await Promise.all(['a', 'b', 'c'].map((s) => writer.encrypt(`secret-${s}`)));
    expect(calls!.filter((c) => c === 'GenerateDataKeyCommand')).toHaveLength(1);
    for (const b of blobs) expect(b.startsWith('kms1.')).toBe(true);
    const reader = createKmsSecretBox({ keyId, region: 'us-east-1', client });
    expect(await Promise.all(blobs.map((b) => reader.decrypt(b)))).toEqual(['secret-a', 'secret-b', 'secret-c']);
    expect(calls!.filter((c) => c === 'DecryptCommand')).toHaveLength(1);
  });
});

describe('log redaction', () => {
  it('blanks secret-named fields at any depth and keeps the rest', () => {
    const out = redactSecrets({ storage: { bucket: 'b', aws_secret_access_key: 'x', nested: [{ password: 'p', account_key: 'k' }] }, token: 't' });
    expect(out).toEqual({ storage: { bucket: 'b', aws_secret_access_key: '[REDACTED]', nested: [{ password: '[REDACTED]', account_key: '[REDACTED]' }] }, token: '[REDACTED]' });
  });
});

describe('inline redaction', () => {
  it('blanks secrets inside free text and presigned URL signatures', () => {
    expect(redactText('failed: aws_secret_access_key=abc123 bucket=b')).toBe('failed: aws_secret_access_key=[REDACTED] bucket=b');
    expect(redactText('{"password": "hunter2", "host": "h"}')).toBe('{"password": "[REDACTED]", "host": "h"}');
    expect(redactText('https://s3/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef&x=1')).toBe(
      'https://s3/b/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&x=1',
    );
    expect(redactText('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9v==;')).toBe('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[REDACTED];');
  });
});
