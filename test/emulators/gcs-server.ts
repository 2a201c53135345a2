/**
 * In-process fake of the subset of the GCS JSON API that @google-cloud/storage 7.x uses when
 * pointed at it with `apiEndpoint` (paths keep the `/storage/v1` and `/upload/storage/v1`
 * prefixes; `STORAGE_EMULATOR_HOST` would drop them, which is also accepted).
 *
 * Covered: buckets insert/get/list/delete; objects list (prefix, delimiter, pageToken,
 * maxResults, startOffset/endOffset), metadata get/patch, media download with Range,
 * media/multipart/resumable uploads (single- and multi-chunk), delete; an OAuth token
 * endpoint for service-account JWT grants; V4 signed URL GET/HEAD, verified against the
 * generated service-account public key (signature, date and expiry).
 *
 * Signed URLs: with a custom `apiEndpoint` the SDK builds `<apiEndpoint>/<bucket>/<object>?X-Goog-...`
 * and signs the canonical header `host:<hostname>` WITHOUT the port (signer.ts uses URL.hostname),
 * so verification uses the Host header's hostname only.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Service-account JSON the emulator trusts (pass it as `credentials` to the SDK). */
export interface GcsServiceAccount {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

export interface GcsServerOptions {
  port?: number;
  projectId?: string;
}

export interface RunningGcsServer {
  /** `http://127.0.0.1:<port>`: pass as `apiEndpoint`. */
  apiEndpoint: string;
  projectId: string;
  credentials: GcsServiceAccount;
  stop(): Promise<void>;
}

interface StoredObject {
  name: string;
  data: Buffer;
  contentType: string;
  metadata: Record<string, string>;
  generation: string;
  metageneration: number;
  created: string;
  updated: string;
  md5Hash: string;
  crc32c: string;
  cacheControl?: string;
  contentEncoding?: string;
  contentDisposition?: string;
}

interface Bucket {
  name: string;
  created: string;
  objects: Map<string, StoredObject>;
}

interface ResumableSession {
  bucket: string;
  meta: Record<string, unknown>;
  name: string;
  contentType: string;
  chunks: Buffer[];
  received: number;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

// CRC32C (Castagnoli), table-driven: Node 20 has no built-in for it and the SDK validates it.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Base64 of the big-endian CRC32C, as GCS reports it. */
export function crc32cBase64(data: Buffer): string {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0, 0);
  return out.toString('base64');
}

const md5Base64 = (data: Buffer) => crypto.createHash('md5').update(data).digest('base64');

/** The SDK's signed-URL encoding: encodeURIComponent plus !'()*. */
const strictEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function parseJson(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, 'Invalid JSON body', 'parseError');
  }
}

/** Splits a multipart/related body into its parts (binary-safe). */
function parseMultipart(body: Buffer, contentType: string): { headers: Record<string, string>; body: Buffer }[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new HttpError(400, 'multipart upload without boundary', 'invalid');
  const delim = Buffer.from(`--${m[1]}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    let start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(delim, start);
    if (next === -1) break;
    let end = next;
    if (body.subarray(end - 2, end).toString() === '\r\n') end -= 2;
    const part = body.subarray(start, end);
    const sep = part.indexOf('\r\n\r\n');
    const headerText = sep === -1 ? '' : part.subarray(0, sep).toString('utf8');
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: sep === -1 ? part : part.subarray(sep + 4) });
    pos = next;
  }
  return parts;
}

/** Starts the emulator on 127.0.0.1 with a fresh service-account key pair. */
export async function startGcsServer(opts: GcsServerOptions = {}): Promise<RunningGcsServer> {
  const projectId = opts.projectId ?? 'labelsync-test';
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const clientEmail = `labelsync-emulator@${projectId}.iam.gserviceaccount.com`;
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, ResumableSession>();
  const tokens = new Set<string>();
  let generationCounter = Date.now() * 1000;
  let base = '';

  const bucketResource = (b: Bucket) => ({
    kind: 'storage#bucket',
    id: b.name,
    selfLink: `${base}/storage/v1/b/${b.name}`,
    projectNumber: '1',
    name: b.name,
    timeCreated: b.created,
    updated: b.created,
    metageneration: '1',
    location: 'US',
    storageClass: 'STANDARD',
    etag: 'CAE=',
  });

  const objectResource = (bucket: string, o: StoredObject) => {
    const enc = encodeURIComponent(o.name);
    return {
      kind: 'storage#object',
      id: `${bucket}/${o.name}/${o.generation}`,
      selfLink: `${base}/storage/v1/b/${bucket}/o/${enc}`,
      mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${enc}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket,
      generation: o.generation,
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: 'STANDARD',
      size: String(o.data.length),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64'),
      timeCreated: o.created,
      updated: o.updated,
      timeStorageClassUpdated: o.created,
      ...(o.cacheControl ? { cacheControl: o.cacheControl } : {}),
      ...(o.contentEncoding ? { contentEncoding: o.contentEncoding } : {}),
      ...(o.contentDisposition ? { contentDisposition: o.contentDisposition } : {}),
      ...(Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
    };
  };

  const getBucket = (name: string): Bucket => {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, 'The specified bucket does not exist.', 'notFound');
    return b;
  };
  const getObject = (b: Bucket, name: string): StoredObject => {
    const o = b.objects.get(name);
    if (!o) throw new HttpError(404, `No such object: ${b.name}/${name}`, 'notFound');
    return o;
  };

  const storeObject = (b: Bucket, meta: Record<string, unknown>, name: string, data: Buffer, contentType?: string) => {
    if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
    const now = new Date().toISOString();
    const existing = b.objects.get(name);
    const md5Hash = md5Base64(data);
    const crc32c = crc32cBase64(data);
    if (typeof meta.md5Hash === 'string' && meta.md5Hash !== md5Hash) {
      throw new HttpError(400, 'Provided MD5 hash does not match the calculated MD5 hash', 'invalid');
    }
    if (typeof meta.crc32c === 'string' && meta.crc32c !== crc32c) {
      throw new HttpError(400, 'Provided CRC32C does not match the calculated CRC32C', 'invalid');
    }
    const custom: Record<string, string> = {};
    if (meta.metadata && typeof meta.metadata === 'object') {
      for (const [k, v] of Object.entries(meta.metadata as Record<string, unknown>)) if (v != null) custom[k] = String(v);
    }
    const o: StoredObject = {
      name,
      data,
      contentType: (meta.contentType as string) || contentType || 'application/octet-stream',
      metadata: custom,
      generation: String(++generationCounter),
      metageneration: 1,
      created: existing?.created ?? now,
      updated: now,
      md5Hash,
      crc32c,
      cacheControl: meta.cacheControl as string | undefined,
      contentEncoding: meta.contentEncoding as string | undefined,
      contentDisposition: meta.contentDisposition as string | undefined,
    };
    b.objects.set(name, o);
    return o;
  };

  const listObjects = (b: Bucket, q: URLSearchParams) => {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const startOffset = q.get('startOffset') ?? '';
    const endOffset = q.get('endOffset') ?? '';
    const maxResults = Math.min(Math.max(Number(q.get('maxResults') ?? 1000) || 1000, 1), 1000);
    const token = q.get('pageToken');
    // Token = last emitted key; for a prefix entry every name under it was consumed too.
    let after = '';
    let afterIsPrefix = false;
    if (token) {
      try {
        const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: string; p: boolean };
        after = t.k;
        afterIsPrefix = t.p;
      } catch {
        throw new HttpError(400, 'Invalid pageToken', 'invalid');
      }
    }
    const names = [...b.objects.keys()].sort();
    const items: StoredObject[] = [];
    const prefixes: string[] = [];
    let last: { k: string; p: boolean } | undefined;
    let more = false;
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      if (startOffset && name < startOffset) continue;
      if (endOffset && name >= endOffset) continue;
      if (token && (name <= after || (afterIsPrefix && name.startsWith(after)))) continue;
      let entry: { k: string; p: boolean } = { k: name, p: false };
      if (delimiter) {
        const i = name.indexOf(delimiter, prefix.length);
        if (i !== -1) entry = { k: name.slice(0, i + delimiter.length), p: true };
      }
      if (entry.p && last?.p && last.k === entry.k) continue;
      if (items.length + prefixes.length >= maxResults) {
        more = true;
        break;
      }
      if (entry.p) prefixes.push(entry.k);
      else items.push(b.objects.get(name)!);
      last = entry;
    }
    return {
      kind: 'storage#objects',
      ...(items.length ? { items: items.map((o) => objectResource(b.name, o)) } : {}),
      ...(prefixes.length ? { prefixes } : {}),
      ...(more && last ? { nextPageToken: Buffer.from(JSON.stringify(last)).toString('base64url') } : {}),
    };
  };

  const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const sendMedia = (req: http.IncomingMessage, res: http.ServerResponse, o: StoredObject, headOnly = false) => {
    const size = o.data.length;
    const headers: Record<string, string> = {
      'content-type': o.contentType,
      'accept-ranges': 'bytes',
      etag: `"${o.md5Hash}"`,
      'last-modified': new Date(o.updated).toUTCString(),
      'x-goog-generation': o.generation,
      'x-goog-metageneration': String(o.metageneration),
      'x-goog-stored-content-length': String(size),
      'x-goog-storage-class': 'STANDARD',
    };
    const range = req.headers.range;
    const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range.trim()) : null;
    if (m && (m[1] !== '' || m[2] !== '')) {
      let start: number;
      let end: number;
      if (m[1] === '') {
        start = Math.max(size - Number(m[2]), 0);
        end = size - 1;
      } else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      }
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      const chunk = o.data.subarray(start, end + 1);
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(chunk.length) });
      res.end(headOnly ? undefined : chunk);
      return;
    }
    // Full-object hashes let the SDK validate the download (it does so only for whole objects).
    res.writeHead(200, { ...headers, 'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`, 'content-length': String(size) });
    res.end(headOnly ? undefined : o.data);
  };

  const verifySignedUrl = (req: http.IncomingMessage, url: URL, rawPath: string) => {
    const q = url.searchParams;
    const deny = (why: string): never => {
      throw new HttpError(403, `Invalid signed URL: ${why}`, 'SignatureDoesNotMatch');
    };
    if (q.get('X-Goog-Algorithm') !== 'GOOG4-RSA-SHA256') deny('unsupported algorithm');
    const credential = q.get('X-Goog-Credential') ?? '';
    const date = q.get('X-Goog-Date') ?? '';
    const expires = Number(q.get('X-Goog-Expires'));
    const signedHeaders = q.get('X-Goog-SignedHeaders') ?? '';
    const signature = q.get('X-Goog-Signature') ?? '';
    const [email, ...scopeParts] = credential.split('/');
    const scope = scopeParts.join('/');
    if (email !== clientEmail) deny('unknown credential');
    const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    if (!dm) deny('bad X-Goog-Date');
    if (!scope.startsWith(`${date.slice(0, 8)}/`) || !scope.endsWith('/storage/goog4_request')) deny('bad credential scope');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) deny('bad X-Goog-Expires');
    const [, y, mo, d, h, mi, s] = dm!;
    const signedAt = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
    const now = Date.now();
    if (now < signedAt - 60_000) deny('not yet valid');
    if (now > signedAt + expires * 1000) deny('expired');
    // Canonical request rebuilt from what the client sent (V4 spec: sorted, strictly encoded query
    // without the signature; only the signed headers; unsigned payload).
    const query = [...q.entries()]
      .filter(([k]) => k !== 'X-Goog-Signature')
      .map(([k, v]) => [strictEncode(k), strictEncode(v)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const headerNames = signedHeaders.split(';').filter(Boolean);
    if (!headerNames.includes('host')) deny('host not signed');
    const canonicalHeaders = headerNames
      .map((hname) => {
        let v: string;
        if (hname === 'host') v = (req.headers.host ?? '').replace(/:\d+$/, '');
        else {
          const raw = req.headers[hname];
          v = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
        }
        return `${hname}:${v.trim().replace(/\s{2,}/g, ' ')}\n`;
      })
      .join('');
    const canonicalRequest = [req.method, rawPath, query, canonicalHeaders, signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
    const stringToSign = [
      'GOOG4-RSA-SHA256',
      date,
      scope,
      crypto.createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    if (!/^[0-9a-f]+$/i.test(signature)) deny('malformed signature');
    const ok = crypto.verify('RSA-SHA256', Buffer.from(stringToSign), publicKey, Buffer.from(signature, 'hex'));
    if (!ok) deny('signature does not match');
  };

  const checkAuth = (req: http.IncomingMessage) => {
    // The SDK skips auth against custom endpoints unless useAuthWithCustomEndpoint is set;
    // anonymous requests are allowed, but a bearer token must be one we issued.
    const auth = req.headers.authorization;
    if (!auth) return;
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (!m || !tokens.has(m[1].trim())) throw new HttpError(401, 'Invalid Credentials', 'authError');
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://x');
    const rawPath = rawUrl.split('?')[0];
    const method = req.method ?? 'GET';
    const q = url.searchParams;

    if (rawPath === '/token' && method === 'POST') {
      const body = await readBody(req);
      const form = new URLSearchParams(body.toString('utf8'));
      const assertion = form.get('assertion') ?? '';
      const [h, p, sig] = assertion.split('.');
      const valid =
        !!sig &&
        crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(sig, 'base64url'));
      if (!valid) return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      const token = `ya29.emulator-${crypto.randomBytes(16).toString('hex')}`;
      tokens.add(token);
      return sendJson(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
    }

    if (q.has('X-Goog-Signature') && (method === 'GET' || method === 'HEAD')) {
      verifySignedUrl(req, url, rawPath);
      const segs = rawPath.split('/').slice(1);
      const bucket = getBucket(decodeURIComponent(segs[0] ?? ''));
      const o = getObject(bucket, decodeURIComponent(segs.slice(1).join('/')));
      return sendMedia(req, res, o, method === 'HEAD');
    }

    checkAuth(req);
    // Accept both the apiEndpoint shape (/storage/v1/...) and STORAGE_EMULATOR_HOST's (no prefix).
    let p = url.pathname;
    let upload = false;
    if (p.startsWith('/upload/')) {
      upload = true;
      p = p.slice('/upload'.length);
    } else if (p.startsWith('/download/')) p = p.slice('/download'.length);
    if (p.startsWith('/storage/v1/')) p = p.slice('/storage/v1'.length);
    const segs = rawPath.replace(/^\/(upload|download)\//, '/').replace(/^\/storage\/v1\//, '/').split('/').slice(1);
    // segs (raw, still percent-encoded): ['b', bucket?, 'o'?, object?]
    if (segs[0] !== 'b') throw new HttpError(404, `Not found: ${p}`, 'notFound');
    const bucketName = segs[1] ? decodeURIComponent(segs[1]) : undefined;

    if (!bucketName) {
      if (method === 'POST') {
        const meta = parseJson(await readBody(req));
        const name = String(meta.name ?? '');
        if (!/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/.test(name)) throw new HttpError(400, `Invalid bucket name: '${name}'`, 'invalid');
        if (buckets.has(name)) {
          throw new HttpError(409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
        }
        const b: Bucket = { name, created: new Date().toISOString(), objects: new Map() };
        buckets.set(name, b);
        return sendJson(res, 200, bucketResource(b));
      }
      if (method === 'GET') {
        const prefix = q.get('prefix') ?? '';
        const items = [...buckets.values()].filter((b) => b.name.startsWith(prefix)).sort((a, b) => (a.name < b.name ? -1 : 1));
        return sendJson(res, 200, { kind: 'storage#buckets', ...(items.length ? { items: items.map(bucketResource) } : {}) });
      }
      throw new HttpError(405, 'Method not allowed', 'methodNotAllowed');
    }

    if (segs.length === 2) {
      const b = getBucket(bucketName);
      if (method === 'GET') return sendJson(res, 200, bucketResource(b));
      if (method === 'DELETE') {
        if (b.objects.size) throw new HttpError(409, 'The bucket you tried to delete is not empty.', 'conflict');
        buckets.delete(bucketName);
        res.writeHead(204);
        return res.end();
      }
      if (method === 'PATCH') return sendJson(res, 200, bucketResource(b));
      throw new HttpError(405, 'Method not allowed', 'methodNotAllowed');
    }

    if (segs[2] !== 'o') throw new HttpError(404, `Not found: ${p}`, 'notFound');
    const b = getBucket(bucketName);
    const objectName = segs.length > 3 ? decodeURIComponent(segs.slice(3).join('/')) : undefined;

    if (upload) return handleUpload(req, res, b, q, method);

    if (!objectName) {
      if (method === 'GET') return sendJson(res, 200, listObjects(b, q));
      throw new HttpError(405, 'Method not allowed', 'methodNotAllowed');
    }
    const o = getObject(b, objectName);
    const gen = q.get('generation');
    if (gen && gen !== o.generation) throw new HttpError(404, `No such object: ${b.name}/${objectName}`, 'notFound');
    const ifGen = q.get('ifGenerationMatch');
    if (ifGen && ifGen !== o.generation) throw new HttpError(412, 'Precondition Failed', 'conditionNotMet');
    if (method === 'GET' || method === 'HEAD') {
      if (q.get('alt') === 'media') return sendMedia(req, res, o, method === 'HEAD');
      return sendJson(res, 200, objectResource(b.name, o));
    }
    if (method === 'DELETE') {
      b.objects.delete(objectName);
      res.writeHead(204);
      return res.end();
    }
    if (method === 'PATCH' || method === 'PUT') {
      const meta = parseJson(await readBody(req));
      if (meta.metadata && typeof meta.metadata === 'object') {
        for (const [k, v] of Object.entries(meta.metadata as Record<string, unknown>)) {
          if (v === null) delete o.metadata[k];
          else o.metadata[k] = String(v);
        }
      }
      if (typeof meta.contentType === 'string') o.contentType = meta.contentType;
      if (typeof meta.cacheControl === 'string') o.cacheControl = meta.cacheControl;
      if (typeof meta.contentDisposition === 'string') o.contentDisposition = meta.contentDisposition;
      o.metageneration++;
      o.updated = new Date().toISOString();
      return sendJson(res, 200, objectResource(b.name, o));
    }
    throw new HttpError(405, 'Method not allowed', 'methodNotAllowed');
  };

  const handleUpload = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    b: Bucket,
    q: URLSearchParams,
    method: string,
  ) => {
    const uploadId = q.get('upload_id');
    if (uploadId) {
      const s = sessions.get(uploadId);
      if (!s || s.bucket !== b.name) throw new HttpError(404, 'No such upload', 'notFound');
      if (method === 'DELETE') {
        sessions.delete(uploadId);
        res.writeHead(499);
        return res.end();
      }
      const body = await readBody(req);
      const cr = String(req.headers['content-range'] ?? '');
      // Forms: "bytes a-b/total", "bytes a-b/*", "bytes a-*/*" (stream, length unknown), "bytes */total" (status query).
      const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(cr.trim());
      let complete = false;
      if (!cr) {
        s.chunks.push(body);
        s.received += body.length;
        complete = true;
      } else if (!m) {
        throw new HttpError(400, `Bad Content-Range: ${cr}`, 'invalid');
      } else {
        const total = m[4] === '*' ? undefined : Number(m[4]);
        if (m[1] !== '*') {
          const start = Number(m[2]);
          if (start > s.received) throw new HttpError(400, 'Content-Range starts past the received bytes', 'invalid');
          // A resent chunk overlapping what we already have: keep only the new tail.
          const skip = s.received - start;
          if (skip < body.length) {
            s.chunks.push(body.subarray(skip));
            s.received += body.length - skip;
          }
        }
        if (total !== undefined) complete = s.received >= total;
        // "a-*/*" means the client streams everything it has in this request.
        else complete = m[3] === '*';
      }
      if (!complete) {
        const headers: Record<string, string> = s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {};
        res.writeHead(308, { ...headers, 'content-length': '0' });
        return res.end();
      }
      sessions.delete(uploadId);
      const o = storeObject(b, s.meta, s.name, Buffer.concat(s.chunks), s.contentType);
      return sendJson(res, 200, objectResource(b.name, o));
    }
    if (method !== 'POST' && method !== 'PUT') throw new HttpError(405, 'Method not allowed', 'methodNotAllowed');
    const type = q.get('uploadType') ?? 'media';
    const body = await readBody(req);
    const reqType = String(req.headers['content-type'] ?? '');
    if (type === 'media') {
      const o = storeObject(b, {}, q.get('name') ?? '', body, reqType || undefined);
      return sendJson(res, 200, objectResource(b.name, o));
    }
    if (type === 'multipart') {
      const parts = parseMultipart(body, reqType);
      if (parts.length < 2) throw new HttpError(400, 'multipart upload needs metadata and media parts', 'invalid');
      const meta = parseJson(parts[0].body);
      const name = String(meta.name ?? q.get('name') ?? '');
      const o = storeObject(b, meta, name, parts[1].body, parts[1].headers['content-type']);
      return sendJson(res, 200, objectResource(b.name, o));
    }
    if (type === 'resumable') {
      const meta = parseJson(body);
      const name = String(meta.name ?? q.get('name') ?? '');
      if (!name) throw new HttpError(400, 'Required parameter: name', 'required');
      const id = crypto.randomBytes(12).toString('hex');
      sessions.set(id, {
        bucket: b.name,
        meta,
        name,
        contentType: String(req.headers['x-upload-content-type'] ?? meta.contentType ?? 'application/octet-stream'),
        chunks: [],
        received: 0,
      });
      const location = `${base}/upload/storage/v1/b/${encodeURIComponent(b.name)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      res.writeHead(200, { location, 'content-length': '0' });
      return res.end();
    }
    throw new HttpError(400, `Unsupported uploadType: ${type}`, 'invalid');
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, e instanceof Error ? e.message : 'internal error', 'backendError');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Drain the request so the client sees the error instead of a reset.
      req.resume();
      sendJson(res, err.code, {
        error: { code: err.code, message: err.message, errors: [{ message: err.message, domain: 'global', reason: err.reason }] },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    apiEndpoint: base,
    projectId,
    credentials: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: crypto.randomBytes(8).toString('hex'),
      private_key: privatePem,
      client_email: clientEmail,
      client_id: '100000000000000000000',
      token_uri: `${base}/token`,
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
