import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ForbiddenError } from '../../shared/errors';
import {
  mediaTokenExpiry,
  signLocalFilesToken,
  signMediaToken,
  verifyLocalFilesToken,
  verifyMediaToken,
  type MediaTokenClaim,
} from '../../shared/resolve/media-token';

const key = randomBytes(32);
const claim: MediaTokenClaim = { orgId: 'org-1', scope: 'task', id: 7, uri: 's3://b/a.jpg' };
const now = 1_800_000_000;

describe('media tokens', () => {
  it('verify for the claim they were signed for, until they expire', () => {
    const t = signMediaToken(key, claim, 3600, now);
    expect(t).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    const exp = verifyMediaToken(key, claim, t, now);
    expect(exp).toBeGreaterThan(now);
    expect(exp - now).toBeLessThanOrEqual(3600);
    expect(() => verifyMediaToken(key, claim, t, exp)).toThrow(ForbiddenError);
    expect(() => verifyMediaToken(key, claim, t, exp)).toThrow(/expired/);
  });

  it('are refused for another org, task, scope or URI, another key, or when altered', () => {
    const t = signMediaToken(key, claim, 3600, now);
    const others: MediaTokenClaim[] = [
      { ...claim, orgId: 'org-2' },
      { ...claim, id: 8 },
      { ...claim, scope: 'project' },
      { ...claim, uri: 's3://b/b.jpg' },
    ];
    for (const c of others) expect(() => verifyMediaToken(key, c, t, now)).toThrow(ForbiddenError);
    expect(() => verifyMediaToken(randomBytes(32), claim, t, now)).toThrow(ForbiddenError);
    const [exp, sig] = t.split('.');
    expect(() => verifyMediaToken(key, claim, `${Number(exp) + 3600}.${sig}`, now)).toThrow(ForbiddenError);
    const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    expect(() => verifyMediaToken(key, claim, `${exp}.${flipped}`, now)).toThrow(ForbiddenError);
    for (const bad of ['', 'x', `${exp}`, `${exp}.`, `-1.${sig}`]) expect(() => verifyMediaToken(key, claim, bad, now)).toThrow(ForbiddenError);
  });

  it('are identical within an expiry quantum, so browsers can cache media URLs', () => {
    const a = signMediaToken(key, claim, 86400, now - (now % 3600));
    const b = signMediaToken(key, claim, 86400, now - (now % 3600) + 1800);
    expect(a).toBe(b);
    // lifetime never falls below 7/8 of the configured one
    for (const ttl of [1, 10, 600, 86400]) {
      for (const t of [now, now + 1, now + 599, now + 3599]) {
        const e = mediaTokenExpiry(t, ttl);
        expect(e - t).toBeGreaterThanOrEqual(Math.ceil((ttl * 7) / 8) - 1);
        expect(e - t).toBeLessThanOrEqual(ttl);
      }
    }
  });

  it('local-files tokens carry and bind the organization and the path', () => {
    const t = signLocalFilesToken(key, 'org-1', 'data/a b.png', 600, now);
    expect(verifyLocalFilesToken(key, 'data/a b.png', t, now)).toBe('org-1');
    expect(() => verifyLocalFilesToken(key, 'data/other.png', t, now)).toThrow(ForbiddenError);
    const [exp, , sig] = t.split('.');
    const forged = `${exp}.${Buffer.from('org-2').toString('base64url')}.${sig}`;
    expect(() => verifyLocalFilesToken(key, 'data/a b.png', forged, now)).toThrow(ForbiddenError);
    expect(() => verifyLocalFilesToken(key, 'data/a b.png', t, now + 601)).toThrow(/expired/);
  });
});
