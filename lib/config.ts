import type { Node } from 'constructs';
import { ambientGrantsVar, roleArnsVar } from '../shared/config/parse-vars';

/**
 * Deploy-time options, read from CDK context (`-c name=value` or cdk.json `context`).
 * Everything has a default so `npx cdk synth` works with no options at all.
 */
export interface LabelsyncConfig {
  /** S3 bucket ARNs the functions' own role may read (storages configured without keys use the default chain). */
  readableBuckets: string[];
  /** S3 bucket ARNs the export path may write with the functions' own role (target storages without keys). */
  writableBuckets: string[];
  /** Distributed Map MaxConcurrency of the sync state machine (also passed to the functions). */
  syncConcurrency: number;
  /** Objects per sync chunk; unset → the functions' default. */
  syncChunkSize?: number;
  /** Origins the browser labeling UI is served from; `*` allows any (the API uses a header token, not cookies). */
  corsOrigins: string[];
  /** Public base URL for resolve links (custom domain); empty → relative links. */
  publicBaseUrl: string;
  /** Hosts/CIDRs storage endpoints may use despite the private-network guard. */
  allowedEndpoints: string[];
  /** Steady-state requests per second and burst of the API's default stage. */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** Retention of function, API access and state machine logs. */
  logRetentionDays: number;
  /** LABELSYNC_AMBIENT_GRANTS of the functions (JSON): organizations allowed the functions' own role per bucket. */
  ambientGrants?: string;
  /** Roles of the deploying account s3s storages may assume (all others of this account are denied). */
  assumableRoleArns: string[];
  /** Table (and index) warm throughput, request units per second; unset → DynamoDB's default for a new on-demand table. */
  tableWarmWrites?: number;
  tableWarmReads?: number;
  /** Email subscribed to the alarm topic (confirmation mail on deploy); unset → no subscription. */
  alarmEmail?: string;
  /** Ship source maps with the bundles and run with --enable-source-maps (costs cold start). */
  sourceMaps: boolean;
  /** 12-digit accounts whose default bus may forward S3 object events to this account's (event sync of their buckets). */
  eventSourceAccounts: string[];
}

/** Context values arrive as arrays (cdk.json) or strings (CLI): accept JSON arrays and comma lists. */
function list(v: unknown): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  const s = String(v).trim();
  if (s.startsWith('[')) return list(JSON.parse(s) as unknown);
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

function positiveInt(name: string, v: unknown, d: number): number {
  if (v === undefined || v === null || v === '') return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`context ${name} must be a positive integer, got '${String(v)}'`);
  return n;
}

function bool(name: string, v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw new Error(`context ${name} must be true or false, got '${String(v)}'`);
}

const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function bucketArns(name: string, v: unknown): string[] {
  const arns = list(v);
  for (const a of arns) {
    // A typo here would silently grant nothing (or, with a wildcard, far too much): refuse it at synth time.
    if (!BUCKET_ARN.test(a)) throw new Error(`context ${name}: '${a}' is not an S3 bucket ARN (arn:aws:s3:::bucket-name)`);
  }
  return arns;
}

/** The same validation the functions apply to the variable, so a typo fails synth, not a request. */
function ambientGrants(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const raw = typeof v === 'string' ? v : JSON.stringify(v);
  const problems: string[] = [];
  ambientGrantsVar('context ambientGrants', raw, problems);
  if (problems.length) throw new Error(problems.join('; '));
  return raw;
}

function roleArns(v: unknown): string[] {
  const problems: string[] = [];
  const arns = roleArnsVar('context assumableRoleArns', list(v).join(','), problems);
  if (problems.length) throw new Error(problems.join('; '));
  return arns;
}

/**
 * A warm-throughput value: DynamoDB only raises warm throughput, and a new on-demand table starts
 * at 4,000 writes / 12,000 reads per second, so a lower value is a mistake.
 */
function warm(name: string, v: unknown, least: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = positiveInt(name, v, least);
  if (n < least) throw new Error(`context ${name} must be at least ${least} (a new on-demand table already has that much), got ${n}`);
  return n;
}

function accounts(name: string, v: unknown): string[] {
  const out = list(v);
  for (const a of out) if (!/^\d{12}$/.test(a)) throw new Error(`context ${name}: '${a}' is not a 12-digit AWS account id`);
  return [...new Set(out)];
}

function alarmEmail(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = String(v).trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s)) throw new Error(`context alarmEmail: '${s}' is not an email address`);
  return s;
}

/** Reads and validates the context of `node` (throws on malformed values so synth fails loudly). */
export function readConfig(node: Node): LabelsyncConfig {
  const ctx = (k: string): unknown => node.tryGetContext(k);
  const chunk = ctx('syncChunkSize');
  const origins = list(ctx('corsOrigins'));
  return {
    readableBuckets: bucketArns('readableBuckets', ctx('readableBuckets')),
    writableBuckets: bucketArns('writableBuckets', ctx('writableBuckets')),
    syncConcurrency: positiveInt('syncConcurrency', ctx('syncConcurrency'), 8),
    syncChunkSize: chunk === undefined ? undefined : positiveInt('syncChunkSize', chunk, 1000),
    corsOrigins: origins.length ? origins : ['*'],
    publicBaseUrl: String(ctx('publicBaseUrl') ?? ''),
    allowedEndpoints: list(ctx('allowedEndpoints')),
    apiRateLimit: positiveInt('apiRateLimit', ctx('apiRateLimit'), 500),
    apiBurstLimit: positiveInt('apiBurstLimit', ctx('apiBurstLimit'), 1000),
    logRetentionDays: positiveInt('logRetentionDays', ctx('logRetentionDays'), 30),
    ambientGrants: ambientGrants(ctx('ambientGrants')),
    assumableRoleArns: roleArns(ctx('assumableRoleArns')),
    tableWarmWrites: warm('tableWarmWrites', ctx('tableWarmWrites'), 4_000),
    tableWarmReads: warm('tableWarmReads', ctx('tableWarmReads'), 12_000),
    alarmEmail: alarmEmail(ctx('alarmEmail')),
    sourceMaps: bool('sourceMaps', ctx('sourceMaps')),
    eventSourceAccounts: accounts('eventSourceAccounts', ctx('eventSourceAccounts')),
  };
}
