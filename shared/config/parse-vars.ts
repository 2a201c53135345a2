/**
 * Parsers of single environment variables. Each returns the default for an unset or empty
 * variable and, for a malformed one, appends a problem naming the variable and its value to
 * `problems` (then returns the default, so parsing goes on and every problem is reported at once).
 */
import { invalidAllowEntries } from '../storage/endpoint-guard';

/** Problems found so far, one sentence each. */
export type Problems = string[];

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

const unset = (v: string | undefined): v is undefined => v === undefined || v === '';

/** A positive integer. */
export function intVar(name: string, v: string | undefined, d: number, problems: Problems): number {
  if (unset(v)) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    problems.push(`${name} must be a positive integer, got '${v}'`);
    return d;
  }
  return n;
}

/** A whole number >= 0 (a delay in ms, where 0 means none). */
export function nonNegativeIntVar(name: string, v: string | undefined, d: number, problems: Problems): number {
  if (unset(v)) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    problems.push(`${name} must be an integer >= 0, got '${v}'`);
    return d;
  }
  return n;
}

/** A fraction between 0 and 1 inclusive (a probability). */
export function fractionVar(name: string, v: string | undefined, d: number, problems: Problems): number {
  if (unset(v)) return d;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    problems.push(`${name} must be a number between 0 and 1, got '${v}'`);
    return d;
  }
  return n;
}

/** A boolean: 1/true/yes/on or 0/false/no/off, any case. */
export function booleanVar(name: string, v: string | undefined, d: boolean, problems: Problems): boolean {
  if (unset(v)) return d;
  const s = v.trim().toLowerCase();
  if (TRUE.includes(s)) return true;
  if (FALSE.includes(s)) return false;
  problems.push(`${name} must be a boolean (true/false, 1/0, yes/no, on/off), got '${v}'`);
  return d;
}

/** An absolute http(s) URL; undefined when unset. */
export function urlVar(name: string, v: string | undefined, problems: Problems): string | undefined {
  if (unset(v)) return undefined;
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    ok = false;
  }
  if (!ok) problems.push(`${name} must be an http(s) URL, got '${v}'`);
  return ok ? v : undefined;
}

/** A TCP port number 0-65535 (0: any free port); undefined when unset. */
export function portVar(name: string, v: string | undefined, problems: Problems): number | undefined {
  if (unset(v)) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    problems.push(`${name} must be a port number (0-65535), got '${v}'`);
    return undefined;
  }
  return n;
}

/**
 * A comma-separated endpoint allowlist (`host`, `host:port`, CIDR, CIDR:port, `[v6]:port`); a
 * malformed entry is a problem rather than an entry that silently matches nothing.
 */
export function allowlistVar(name: string, v: string | undefined, problems: Problems): string[] {
  const entries = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = invalidAllowEntries(entries);
  if (bad.length) problems.push(`${name} has malformed entries ${bad.map((b) => `'${b}'`).join(', ')} (expected host, host:port, CIDR, CIDR:port or [IPv6]:port)`);
  return entries.filter((e) => !bad.includes(e));
}

/**
 * One grant of the service's own cloud identity (the credential chain of the process or the
 * Lambda role): a scheme (`*`: S3 and GCS), a bucket (`*`: any) and a key prefix ('' = all).
 */
export interface AmbientGrant {
  scheme: 's3' | 'gs' | '*';
  bucket: string;
  prefix: string;
}

/** Organization id (`*`: every organization) → the buckets it may use without keys. */
export type AmbientGrants = Readonly<Record<string, readonly AmbientGrant[]>>;

function ambientGrantOf(s: string): AmbientGrant | undefined {
  if (s === '*') return { scheme: '*', bucket: '*', prefix: '' };
  const m = /^(s3|gs):\/\/([^/\s]+)(?:\/(\S*))?$/.exec(s);
  return m ? { scheme: m[1] as 's3' | 'gs', bucket: m[2], prefix: m[3] ?? '' } : undefined;
}

const GRANTS_SHAPE = 'a JSON object of organization id (or "*") → list of "s3://bucket[/prefix]", "gs://bucket[/prefix]" or "*"';

/** `{"<org id>": ["s3://bucket/prefix", "gs://bucket", "*"]}`; {} when unset. */
export function ambientGrantsVar(name: string, v: string | undefined, problems: Problems): AmbientGrants {
  if (unset(v)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${name} must be ${GRANTS_SHAPE}, got '${v}'`);
    return {};
  }
  const out: Record<string, AmbientGrant[]> = {};
  for (const [org, list] of Object.entries(parsed)) {
    const entries = Array.isArray(list) ? list.map((s) => (typeof s === 'string' ? ambientGrantOf(s.trim()) : undefined)) : [undefined];
    if (entries.some((g) => !g)) problems.push(`${name}: the grants of '${org}' must be a list of "s3://bucket[/prefix]", "gs://bucket[/prefix]" or "*", got ${JSON.stringify(list)}`);
    else out[org] = entries as AmbientGrant[];
  }
  return out;
}

/** A 12-digit AWS account id; undefined when unset. */
export function accountIdVar(name: string, v: string | undefined, problems: Problems): string | undefined {
  if (unset(v)) return undefined;
  if (/^\d{12}$/.test(v.trim())) return v.trim();
  problems.push(`${name} must be a 12-digit AWS account id, got '${v}'`);
  return undefined;
}

/** Comma-separated IAM role ARNs; [] when unset. */
export function roleArnsVar(name: string, v: string | undefined, problems: Problems): string[] {
  const arns = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = arns.filter((a) => !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(a));
  if (bad.length) problems.push(`${name} must list IAM role ARNs (arn:aws:iam::<account id>:role/<name>), got '${bad.join(',')}'`);
  return arns.filter((a) => !bad.includes(a));
}
