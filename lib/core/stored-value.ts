import { constants as bufferConstants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants, gunzip, gzip } from 'node:zlib';
import type { StoredValue } from './session-store';

const gunzipAsync = promisify(gunzip);
const brotliDecompressAsync = promisify(brotliDecompress);
const brotliCompressAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** First byte of a binary stored value: what the rest is. Text under the threshold is stored as a plain string. */
const enum Marker {
  GzipText = 1,
  RawBytes = 2,
  GzipBytes = 3,
  BrotliText = 4,
  BrotliBytes = 5,
}

export type Compression = 'gzip' | 'brotli';

const COMPRESSORS: Record<Compression, { compress(bytes: Uint8Array): Promise<Buffer>; text: Marker; bytes: Marker }> = {
  gzip: { compress: (bytes) => gzipAsync(bytes), text: Marker.GzipText, bytes: Marker.GzipBytes },
  // Quality 5 of 11: most of brotli's gain over gzip at a fraction of the default's CPU cost.
  brotli: { compress: (bytes) => brotliCompressAsync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }), text: Marker.BrotliText, bytes: Marker.BrotliBytes },
};

export type Encoded = string | Uint8Array;

/** Compresses values larger than `threshold` bytes when that makes them smaller. */
export async function toStoredValue(encoded: Encoded, threshold: number, compression: Compression = 'gzip'): Promise<StoredValue> {
  const isText = typeof encoded === 'string';
  if (isText && isBelowThreshold(encoded, threshold)) return encoded;
  const bytes = isText ? Buffer.from(encoded, 'utf8') : encoded;
  if (bytes.byteLength > threshold) {
    const compressor = COMPRESSORS[compression];
    const compressed = await compressor.compress(bytes);
    if (compressed.byteLength < bytes.byteLength) return withMarker(isText ? compressor.text : compressor.bytes, compressed);
  }
  return isText ? encoded : withMarker(Marker.RawBytes, bytes);
}

/** Text this short cannot exceed the threshold even at 3 UTF-8 bytes per UTF-16 unit: stored as it is, no need to measure. */
export function isBelowThreshold(text: string, threshold: number): boolean {
  return text.length <= threshold / 3;
}

/**
 * The encoding behind a stored value. Decompression stops at `maxOutputLength`
 * bytes, so a small stored value can never inflate into megabytes (a gzip or
 * brotli bomb); past it, and on any corrupt value, it throws.
 */
export async function fromStoredValue(stored: StoredValue, maxOutputLength = Number.MAX_SAFE_INTEGER): Promise<Encoded> {
  if (typeof stored === 'string') return stored;
  const body = stored.subarray(1);
  // zlib refuses maxOutputLength 0; an empty budget still means "nothing may come out".
  const options = { maxOutputLength: Math.max(1, Math.min(maxOutputLength, bufferConstants.MAX_LENGTH)) };
  switch (stored[0]) {
    case Marker.GzipText:
      return (await gunzipAsync(body, options)).toString('utf8');
    case Marker.GzipBytes:
      return new Uint8Array(await gunzipAsync(body, options));
    case Marker.BrotliText:
      return (await brotliDecompressAsync(body, options)).toString('utf8');
    case Marker.BrotliBytes:
      return new Uint8Array(await brotliDecompressAsync(body, options));
    case Marker.RawBytes:
      return body;
    default:
      throw new Error(`unknown stored value marker ${stored[0]}`);
  }
}

/** The size of an encoding in bytes: what maxSessionBytes counts. */
export function encodedSize(encoded: Encoded): number {
  return typeof encoded === 'string' ? Buffer.byteLength(encoded, 'utf8') : encoded.byteLength;
}

/** Text up to this length is its own fingerprint: comparing it is cheaper than hashing it. */
const INLINE_FINGERPRINT_CHARS = 1024;

/**
 * Equal encodings give equal fingerprints: what per-attribute dirty detection
 * compares. Short text stands for itself (prefixed so it never equals a digest).
 */
export function fingerprint(encoded: Encoded): string {
  if (typeof encoded === 'string' && encoded.length <= INLINE_FINGERPRINT_CHARS) return `=${encoded}`;
  return `#${createHash('sha256').update(encoded).digest('base64')}`;
}

export function storedSize(value: StoredValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
}

function withMarker(marker: Marker, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength + 1);
  out[0] = marker;
  out.set(bytes, 1);
  return out;
}
