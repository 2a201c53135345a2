/**
 * How long a presigned URL lives. Images and documents: the storage's `presign_ttl` (minutes, as
 * in Label Studio). Audio and video: at least the media lifetime (LABELSYNC_MEDIA_PRESIGN_TTL_SECONDS),
 * because a browser follows the resolve redirect once and then sends every later Range request of
 * playback and seeking to the presigned URL itself; one that expires mid-playback stalls the
 * player on the bucket's 403s. Providers cap it at their maximum (7 days for S3 and GCS SigV4).
 */
import { guessContentType } from './content-type';

/** True for content types a media element streams in Range requests (audio/*, video/*). */
export function isStreamedMedia(contentType: string | undefined): boolean {
  return !!contentType && /^(audio|video)\//i.test(contentType);
}

/** The lifetime (seconds) and response content type of a presigned URL for `key`. */
export function presignFor(key: string, presignTtlMinutes: number, mediaTtlSeconds: number): { ttlSeconds: number; contentType?: string } {
  const contentType = guessContentType(key);
  const base = presignTtlMinutes * 60;
  return { ttlSeconds: isStreamedMedia(contentType) ? Math.max(base, mediaTtlSeconds) : base, contentType };
}
