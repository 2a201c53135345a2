/**
 * SSRF guard for user-supplied endpoints (s3_endpoint, gcs_endpoint, azure_endpoint, Redis host).
 * Before any connection the host is resolved and every address it resolves to is checked;
 * loopback, private, carrier-grade NAT, link-local (cloud metadata 169.254.169.254,
 * fd00:ec2::254), unique-local, unspecified, multicast/reserved addresses and IPv4-mapped /
 * NAT64 / IPv4-compatible IPv6 forms of them are refused unless the host or a CIDR covering the
 * address is listed in LABELSYNC_ALLOWED_ENDPOINTS. Numeric IPv4 spellings (`2130706433`,
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
  /** Addresses the host resolved to and that were checked; empty when allowed by name. */
  addresses: { address: string; family: 4 | 6 }[];
  /** True when LABELSYNC_ALLOWED_ENDPOINTS exempted it. */
  allowed: boolean;
}

export interface GuardOptions {
  /** Hosts or CIDRs (`10.0.0.0/8`, `::1/128`, `minio.internal`) that skip the private-address check. */
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

interface Cidr {
  v6: boolean;
  base: bigint;
  bits: number;
}

function parseCidr(text: string): Cidr | null {
  const [addr, bitsText] = text.split('/');
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

/** True when `host` or `ip` matches an entry of the allow list (host name or CIDR/IP). */
export function isAllowedEndpoint(host: string, ip: string | undefined, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  for (const raw of allowed) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (!entry) continue;
    if (entry === h) return true;
    const cidr = parseCidr(entry);
    if (!cidr) continue;
    for (const candidate of [ip, h]) {
      if (!candidate) continue;
      const v4 = v4ToNumber(candidate);
      if (v4 !== null && inCidr(cidr, false, BigInt(v4))) return true;
      const v6 = v4 === null ? v6ToBigInt(candidate) : null;
      if (v6 !== null && inCidr(cidr, true, v6)) return true;
    }
  }
  return false;
}

/**
 * Extracts the host of an endpoint URL (`http://host:9000/x`) or a bare host (`redis.local`,
 * `10.0.0.1`, `::1`). Numeric IPv4 forms are canonicalised (`0x7f.1` → `127.0.0.1`).
 * @throws StorageError('invalid') naming `field` when it cannot be parsed.
 */
export function endpointHost(endpoint: string, field: string): string {
  const text = endpoint.trim();
  let url: URL;
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) url = new URL(text);
    else if (isIP(text) === 6) url = new URL(`http://[${text}]/`);
    else url = new URL(`http://${text}/`);
  } catch {
    throw new StorageError('invalid', `${field}: '${text}' is not a valid host or URL`);
  }
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
  return host;
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

/**
 * Checks one user-supplied endpoint (URL or host) named by `field`.
 * @throws StorageError('forbidden_endpoint') naming the field when an address is not allowed;
 *         StorageError('unreachable') when the name does not resolve within the timeout;
 *         StorageError('invalid') when it cannot be parsed.
 */
export async function checkEndpoint(endpoint: string, field: string, opts: GuardOptions): Promise<CheckedEndpoint> {
  const host = endpointHost(endpoint, field);
  if (isAllowedEndpoint(host, undefined, opts.allowedEndpoints)) return { host, addresses: [], allowed: true };
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
    if (isForbiddenAddress(a.address) && !isAllowedEndpoint(host, a.address, opts.allowedEndpoints)) {
      const what = literal ? `'${host}'` : `'${host}' (resolves to ${a.address})`;
      throw new StorageError(
        'forbidden_endpoint',
        `${field}: ${what} is a private, loopback or link-local address; add it to LABELSYNC_ALLOWED_ENDPOINTS to allow it`,
      );
    }
  }
  return {
    host,
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
