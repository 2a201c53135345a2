/**
 * The `fileuri` query parameter of resolve URLs: URL-safe base64 (RFC 4648 §5) of the UTF-8
 * bytes of the URI, with `=` padding, exactly as Label Studio emits it.
 */

/** URL-safe, padded base64 of `uri`. */
export function encodeFileUri(uri: string): string {
  const b = Buffer.from(uri, 'utf8').toString('base64');
  // Node's base64url drops padding; LS keeps it, so map the standard alphabet instead.
  return b.replace(/\+/g, '-').replace(/\//g, '_');
}

const STRICT_B64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict decoder: URL-safe alphabet only, optional padding (unpadded accepted), and the bytes
 * must be valid UTF-8 containing `://`. Returns undefined when any rule fails.
 */
export function decodeFileUriBase64(raw: string): string | undefined {
  if (!raw || !STRICT_B64URL.test(raw)) return undefined;
  const body = raw.replace(/=+$/, '');
  const rem = body.length % 4;
  if (rem === 1) return undefined;
  // Padding, when present, must be exactly what the body length implies.
  const pad = raw.length - body.length;
  if (pad > 0 && (body.length + pad) % 4 !== 0) return undefined;
  const bytes = Buffer.from(body, 'base64url');
  // Reject non-canonical trailing bits (two different strings must not decode to one URI).
  if (bytes.toString('base64url') !== body) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  return text.includes('://') ? text : undefined;
}

/**
 * Label Studio's resolve decoding: base64 first, else URL-unquote the raw value (so a plain
 * `s3://...` works). Returns undefined when neither yields a URI.
 */
export function decodeFileUri(raw: string): string | undefined {
  const b = decodeFileUriBase64(raw);
  if (b !== undefined) return b;
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    text = raw;
  }
  return text.includes('://') ? text : undefined;
}
