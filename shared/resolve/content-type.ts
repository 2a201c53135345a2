/**
 * Content types of proxied objects and local files: the store's own type, unless it is the
 * generic octet-stream, in which case a guess from the key's extension (browsers refuse to play
 * `application/octet-stream` in `<video>`).
 */

const BY_EXTENSION: Readonly<Record<string, string>> = {
  // images
  jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', png: 'image/png', gif: 'image/gif',
  webp: 'image/webp', bmp: 'image/bmp', tif: 'image/tiff', tiff: 'image/tiff', svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon', avif: 'image/avif', heic: 'image/heic', heif: 'image/heif',
  // audio
  mp3: 'audio/mpeg', wav: 'audio/wav', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/opus',
  flac: 'audio/flac', m4a: 'audio/mp4', aac: 'audio/aac', weba: 'audio/webm',
  // video
  mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', ogv: 'video/ogg', mov: 'video/quicktime',
  avi: 'video/x-msvideo', mkv: 'video/x-matroska', mpeg: 'video/mpeg', mpg: 'video/mpeg',
  ts: 'video/mp2t', m3u8: 'application/vnd.apple.mpegurl',
  // text and documents
  txt: 'text/plain', csv: 'text/csv', tsv: 'text/tab-separated-values', html: 'text/html',
  htm: 'text/html', xml: 'application/xml', json: 'application/json', jsonl: 'application/jsonl',
  pdf: 'application/pdf', md: 'text/markdown', vtt: 'text/vtt', srt: 'application/x-subrip',
  // other
  zip: 'application/zip', gz: 'application/gzip', parquet: 'application/vnd.apache.parquet',
};

/** Guess from the last extension of `name` (a key, path or URI); undefined when unknown. */
export function guessContentType(name: string): string | undefined {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot < 0 || dot === base.length - 1) return undefined;
  return BY_EXTENSION[base.slice(dot + 1).toLowerCase()];
}

const GENERIC = new Set(['application/octet-stream', 'binary/octet-stream', '']);

/**
 * The Content-Type to send: the store's, unless missing or generic octet-stream, then the guess,
 * then `application/octet-stream`.
 */
export function effectiveContentType(storeType: string | undefined, name: string): string {
  const t = (storeType ?? '').trim();
  if (!GENERIC.has(t.split(';')[0].trim().toLowerCase())) return t;
  return guessContentType(name) ?? 'application/octet-stream';
}
