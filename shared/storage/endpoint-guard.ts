/**
 * SSRF guard for user-supplied endpoints (s3_endpoint, gcs_endpoint, azure_endpoint, Redis host).
 * Before any connection the host is resolved and every address it resolves to is checked;
 * loopback, private, carrier-grade NAT, link-local (cloud metadata 169.254.169.254,
 * fd00:ec2::254), unique-local, unspecified, multicast/reserved addresses and IPv4-mapped /
 * NAT64 / IPv4-compatible IPv6 forms of them are refused unless an entry of
 * LABELSYNC_ALLOWED_ENDPOINTS covers the host or address and the port (an entry without a port
 * covers every port of its host). Numeric IPv4 spellings (`2130706433`,
 * `0177.0.0.1`, `0x7f.1`) are normalised by the WHATWG URL parser first, so they cannot slip by.
 *
 * The result carries the checked address; providers pin their connections to it (custom `lookup`
 * in the HTTP agent, or connecting to the IP directly) so a DNS answer that changes between the
 * check and the connection (DNS rebinding) cannot redirect the request.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { StorageError } from '../errors';

/** An endpoint that passed the guard. */
export interface CheckedEndpoint {
  /** Lower-cased host name or IP literal (no brackets, no port). */
  host: string;
  /** Port the client connects to (explicit or the scheme's default); undefined for a bare host. */
  port?: number;
  /** Addresses the host resolved to and that were checked; empty when allowed by name. */
  addresses: { address: string; family: 4 | 6 }[];
  /** True when LABELSYNC_ALLOWED_ENDPOINTS exempted it. */
  allowed: boolean;
}

export interface GuardOptions {
  /** Allowlist entries (see parseAllowEntry: `minio.internal`, `10.0.0.0/8:9000`, `[::1]:9000`) that skip the private-address check. */
  allowedEndpoints: string[];
  /** DNS resolution (tests inject a fake). */
  resolve?: (host: string) => Promise<{ address: string; family: number }[]>;
  /** DNS timeout, default 5 s. */
  timeoutMs?: number;
}

// ---- address arithmetic -------------------------------------------------------------------

/** Parses dotted-quad IPv4 to a 32-bit number; null when not canonical IPv4. */
function v4ToNumber(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Parses IPv6 (with `::` and an optional trailing dotted quad) to a 128-bit bigint. */
function v6ToBigInt(ip: string): bigint | null {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    // Trailing dotted quad (::ffff:127.0.0.1): rewrite it as two hex groups.
    const v4 = v4ToNumber(s.slice(lastColon + 1));
    if (v4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4 >>> 16) & 0xffff).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return null;
  let groups = head;
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  }
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

export interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
}

function parseCidr(text: string): Cidr | null {
  const [addr, bitsText, extra] = text.split('/');
  if (extra !== undefined) return null;
  const v4 = v4ToNumber(addr);
  if (v4 !== null) {
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    if (!Number.isInteger(bits) || bits < 0 || bits > 32) return null;
    return { v6: false, base: BigInt(v4), bits };
  }
  const v6 = v6ToBigInt(addr);
  if (v6 === null) return null;
  const bits = bitsText === undefined ? 128 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 128) return null;
  return { v6: true, base: v6, bits };
}

function inCidr(c: Cidr, v6: boolean, value: bigint): boolean {
  if (c.v6 !== v6) return false;
  const width = v6 ? 128n : 32n;
  const shift = width - BigInt(c.bits);
  return value >> shift === c.base >> shift;
}

const BLOCKED_V4 = [
  '0.0.0.0/8', // "this network", 0.0.0.0 reaches localhost on Linux
  '10.0.0.0/8',
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8',
  '169.254.0.0/16', // link-local, cloud metadata 169.254.169.254
  '172.16.0.0/12',
  '192.0.0.0/24', // IETF protocol assignments
  '192.168.0.0/16',
  '198.18.0.0/15', // benchmarking
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved + broadcast
].map((c) => parseCidr(c) as Cidr);

const BLOCKED_V6 = [
  '::/128', // unspecified
  '::1/128', // loopback
  'fc00::/7', // unique local, includes fd00:ec2::254 (EC2 metadata over IPv6)
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
].map((c) => parseCidr(c) as Cidr);

/** IPv6 forms that carry an IPv4 address in their low 32 bits. */
const EMBEDDING_V6 = [
  '::ffff:0:0/96', // IPv4-mapped
  '::/96', // IPv4-compatible (deprecated)
  '64:ff9b::/96', // NAT64
  '64:ff9b:1::/48', // local NAT64
].map((c) => parseCidr(c) as Cidr);

/**
 * True when `ip` (an IP literal) is loopback, private, link-local, unique-local, unspecified,
 * multicast/reserved, or an IPv6 form embedding such an IPv4 address.
 */
export function isForbiddenAddress(ip: string): boolean {
  const v4 = v4ToNumber(ip);
  if (v4 !== null) return BLOCKED_V4.some((c) => inCidr(c, false, BigInt(v4)));
  const v6 = v6ToBigInt(ip);
  if (v6 === null) return true; // not an address we understand: refuse
  if (BLOCKED_V6.some((c) => inCidr(c, true, v6))) return true;
  if (EMBEDDING_V6.some((c) => inCidr(c, true, v6))) {
    const embedded = Number(v6 & 0xffffffffn);
    return BLOCKED_V4.some((c) => inCidr(c, false, BigInt(embedded)));
  }
  return false;
}

// ---- the allowlist (LABELSYNC_ALLOWED_ENDPOINTS) ----------------------------------------------

/** One parsed allowlist entry: a host name or an address range, optionally with a port. */
export interface AllowEntry {
  /** Canonical host name (lower case, WHATWG-normalised); absent for an address range. */
  name?: string;
  cidr?: Cidr;
  /** Only this port; absent: any port (the operator's explicit choice for a bare entry). */
  port?: number;
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** Splits `host:port`, `[v6]:port`, `[v6]`, bare IPv6 / IPv6 CIDR (no port) and `a.b.c.d/n:port`. */
function splitHostPort(text: string): { host: string; port?: string } | null {
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) return { host: bracket[1], port: bracket[2] };
  if (text.includes('[') || text.includes(']')) return null;
  const colons = text.split(':').length - 1;
  if (colons > 1) return { host: text }; // bare IPv6: a port needs brackets
  if (colons === 1) {
    const i = text.indexOf(':');
    return { host: text.slice(0, i), port: text.slice(i + 1) };
  }
  return { host: text };
}

/**
 * Parses an allowlist entry: `host`, `host:port`, an IP, a CIDR (`10.0.0.0/8`), any of them with
 * a port (`10.0.0.0/8:9000`), IPv6 in brackets when a port follows (`[::1]:9000`, `[fd00::/8]:80`).
 * Null when the entry is malformed.
 */
export function parseAllowEntry(raw: string): AllowEntry | null {
  const parts = splitHostPort(raw.trim().toLowerCase());
  if (!parts || !parts.host) return null;
  let port: number | undefined;
  if (parts.port !== undefined) {
    const p = parsePort(parts.port);
    if (p === null) return null;
    port = p;
  }
  const isRange = parts.host.includes('/') || parts.host.includes(':') || v4ToNumber(parts.host) !== null;
  if (isRange) {
    const cidr = parseCidr(parts.host);
    return cidr ? { cidr, port } : null;
  }
  if (!/^[a-z0-9_.-]+$/.test(parts.host)) return null;
  let name: string;
  try {
    // Same canonical form the endpoints get (`127.1` -> `127.0.0.1`, trailing-dot kept).
    name = new URL(`http://${parts.host}/`).hostname;
  } catch {
    return null;
  }
  const v4 = v4ToNumber(name);
  return v4 !== null ? { cidr: { v6: false, base: BigInt(v4), bits: 32 }, port } : { name, port };
}

/** The entries of `list` that do not parse, for the environment check at start. */
export function invalidAllowEntries(list: readonly string[]): string[] {
  return list.filter((e) => e.trim() && parseAllowEntry(e) === null);
}

function entryCoversAddress(cidr: Cidr, candidate: string): boolean {
  const v4 = v4ToNumber(candidate);
  if (v4 !== null) return inCidr(cidr, false, BigInt(v4));
  const v6 = v6ToBigInt(candidate);
  return v6 !== null && inCidr(cidr, true, v6);
}

/** What an endpoint is matched on: its host, the address it resolved to, its port. */
export interface AllowTarget {
  host: string;
  ip?: string;
  /** The port the client connects to; undefined (unknown) matches only entries without a port. */
  port?: number;
}

/** True when an entry of the allow list covers the target (host name or address, and port). */
export function isAllowedEndpoint(target: AllowTarget, allowed: readonly string[]): boolean {
  const h = target.host.toLowerCase();
  for (const raw of allowed) {
    const entry = parseAllowEntry(raw);
    if (!entry) continue;
    if (entry.port !== undefined && entry.port !== target.port) continue;
    if (entry.name !== undefined && entry.name === h) return true;
    if (entry.cidr && [target.ip, h].some((c) => c !== undefined && entryCoversAddress(entry.cidr!, c))) return true;
  }
  return false;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'ftp:': 21, 'redis:': 6379, 'rediss:': 6379 };

function parseEndpointUrl(text: string, field: string): { url: URL; bare: boolean } {
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return { url: new URL(text), bare: false };
    if (isIP(text) === 6) return { url: new URL(`http://[${text}]/`), bare: true };
    return { url: new URL(`http://${text}/`), bare: true };
  } catch {
    throw new StorageError('invalid', `${field}: '${text}' is not a valid host or URL`);
  }
}

/**
 * Host and port of an endpoint URL (`http://host:9000/x`) or a bare host (`redis.local`,
 * `10.0.0.1:6379`, `::1`). Numeric IPv4 forms are canonicalised (`0x7f.1` → `127.0.0.1`); the
 * port is the URL's, else the scheme's default; a bare host without a port has none (undefined).
 * @throws StorageError('invalid') naming `field` when it cannot be parsed.
 */
export function endpointTarget(endpoint: string, field: string): { host: string; port?: number } {
  const text = endpoint.trim();
  const { url, bare } = parseEndpointUrl(text, field);
  // Non-special schemes (redis://) skip IPv4 canonicalisation: re-parse the host as http.
  let host = url.hostname;
  if (!['http:', 'https:', 'ws:', 'wss:', 'ftp:'].includes(url.protocol) && host) {
    try {
      host = new URL(`http://${host}/`).hostname;
    } catch {
      /* keep */
    }
  }
  host = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (!host) throw new StorageError('invalid', `${field}: '${text}' has no host`);
  // The URL parser drops a port equal to the scheme's default (`host:80` parsed as http).
  const explicit = bare && isIP(text) !== 6 ? /:(\d+)$/.exec(text) : null;
  const port = url.port ? Number(url.port) : explicit ? Number(explicit[1]) : bare ? undefined : DEFAULT_PORTS[url.protocol];
  return { host, port };
}

/** The host of an endpoint (see endpointTarget). */
export function endpointHost(endpoint: string, field: string): string {
  return endpointTarget(endpoint, field).host;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]);
}

/** The allowlist entry an operator would add for this endpoint (`host:port`, `[v6]:port`). */
function suggestedEntry(host: string, port: number | undefined): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === undefined ? `'${host}'` : `'${h}:${port}'`;
}

/**
 * Checks one user-supplied endpoint (URL or host) named by `field`.
 * @throws StorageError('forbidden_endpoint') naming the field when an address is not allowed;
 *         StorageError('unreachable') when the name does not resolve within the timeout;
 *         StorageError('invalid') when it cannot be parsed.
 */
export async function checkEndpoint(endpoint: string, field: string, opts: GuardOptions): Promise<CheckedEndpoint> {
  const { host, port } = endpointTarget(endpoint, field);
  if (isAllowedEndpoint({ host, port }, opts.allowedEndpoints)) return { host, port, addresses: [], allowed: true };
  const literal = isIP(host);
  let addresses: { address: string; family: number }[];
  if (literal) {
    addresses = [{ address: host, family: literal }];
  } else {
    const resolve = opts.resolve ?? ((h: string) => dnsLookup(h, { all: true, verbatim: true }));
    const timeoutMs = opts.timeoutMs ?? 5000;
    try {
      addresses = await withTimeout(
        resolve(host),
        timeoutMs,
        () => new StorageError('unreachable', `${field}: could not resolve '${host}' within ${timeoutMs / 1000} s`),
      );
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError('unreachable', `${field}: host '${host}' does not resolve`, { cause: e });
    }
    if (addresses.length === 0) throw new StorageError('unreachable', `${field}: host '${host}' does not resolve`);
  }
  for (const a of addresses) {
    if (isForbiddenAddress(a.address) && !isAllowedEndpoint({ host, ip: a.address, port }, opts.allowedEndpoints)) {
      const what = literal ? `'${host}'` : `'${host}' (resolves to ${a.address})`;
      throw new StorageError(
        'forbidden_endpoint',
        `${field}: ${what} is a private, loopback or link-local address; add ${suggestedEntry(host, port)} to LABELSYNC_ALLOWED_ENDPOINTS to allow it`,
      );
    }
  }
  return {
    host,
    port,
    addresses: addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })),
    allowed: false,
  };
}

/**
 * A `net` lookup function that answers the checked addresses for the checked host and defers
 * to the system resolver for any other name. Plug it into `http.Agent({lookup})`.
 */
export function pinnedLookup(checked: CheckedEndpoint): LookupFunction | undefined {
  if (checked.addresses.length === 0) return undefined;
  const first = checked.addresses[0];
  return ((hostname: string, options: unknown, callback: unknown) => {
    const cb = (typeof options === 'function' ? options : callback) as (
      err: NodeJS.ErrnoException | null,
      address: string | { address: string; family: number }[],
      family?: number,
    ) => void;
    const o = (typeof options === 'object' && options) as { all?: boolean } | false;
    if (hostname.toLowerCase() !== checked.host) {
      void dnsLookup(hostname, { all: true }).then(
        (list) => (o && o.all ? cb(null, list) : cb(null, list[0].address, list[0].family)),
        (err: NodeJS.ErrnoException) => cb(err, ''),
      );
      return;
    }
    if (o && o.all) cb(null, checked.addresses);
    else cb(null, first.address, first.family);
  }) as LookupFunction;
}
