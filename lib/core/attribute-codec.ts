import { SessionError, SessionKeyError, SessionSerializationError, SessionTooLargeError, SessionUnreadableError } from './errors';
import type { Logger } from './logger';
import { FORBIDDEN_KEYS, Serializer } from './serializer';
import { attributesOf, RESERVED_NAMES, Session } from './session';
import { Encoded, encodedSize, fingerprint, fromStoredValue, isBelowThreshold, toStoredValue } from './stored-value';
import type { Compression } from './stored-value';
import type { StoredValue } from './session-store';

/** Longest attribute name, in UTF-8 bytes: names are keys, not data (DynamoDB would refuse past 64 KB, with a 500). */
const MAX_NAME_BYTES = 1024;

/** What the codec needs from the resolved options. */
export interface CodecSettings {
  readonly serializer: Serializer;
  readonly maxSessionBytes: number;
  readonly compressThreshold: number;
  readonly compression: Compression;
  readonly attributeFilter: RegExp | undefined;
  readonly logger: Logger;
}

/** A loaded session's attributes, with what dirty detection and the guards compare against. */
export interface DecodedAttributes {
  readonly attributes: Record<string, unknown>;
  /** Per attribute: the fingerprint of its encoding. */
  readonly fingerprints: Map<string, string>;
  /** Per attribute: its value as stored. */
  readonly values: Map<string, StoredValue>;
}

/**
 * Decodes a stored item's attributes. Names that would reach a prototype or
 * shadow a session member are dropped. No compressed value may inflate past
 * `maxSessionBytes`, and all of them together past twice that, so no item can
 * make a request inflate megabytes (a 40 KB gzip or brotli bomb would
 * otherwise become tens of megabytes). The slack over the write bound is for
 * concurrent last-write-wins writers, each within the bound on its own view,
 * whose sum is over it. Past a bound, or on a value that cannot be decoded:
 * SessionUnreadableError (422); destroy() needs no decoding, so such a session can still be ended.
 */
export async function decodeAttributes(data: Readonly<Record<string, StoredValue>>, settings: CodecSettings): Promise<DecodedAttributes> {
  const fingerprints = new Map<string, string>();
  const values = new Map<string, StoredValue>();
  const attributes: Record<string, unknown> = {};
  let budget = 2 * settings.maxSessionBytes;
  for (const [name, value] of Object.entries(data)) {
    if (FORBIDDEN_KEYS.has(name)) continue;
    if (RESERVED_NAMES.has(name)) {
      settings.logger.warn(`ignoring stored attribute "${name}": the name is reserved for a session member`);
      continue;
    }
    // Plain text (most values) is already in memory and bounded by the item limit; only binary values inflate.
    const encoded = typeof value === 'string' ? value : await inflate(value, name, settings.maxSessionBytes, budget);
    if (typeof value !== 'string') budget -= encodedSize(encoded);
    fingerprints.set(name, fingerprint(encoded));
    values.set(name, value);
    attributes[name] = decodeEncoded(encoded, name, settings.serializer);
  }
  return { attributes, fingerprints, values };
}

/** One stored value back to the app's value, with its fingerprint (for conflicts: what another request stored). */
export async function decodeValue(value: StoredValue, name: string, settings: CodecSettings): Promise<{ value: unknown; fingerprint: string }> {
  const encoded = await inflate(value, name, settings.maxSessionBytes, settings.maxSessionBytes);
  return { value: decodeEncoded(encoded, name, settings.serializer), fingerprint: fingerprint(encoded) };
}

/** A stored value's encoding, inflated to at most `maxSessionBytes` and what is `left` of the session's read bound. */
async function inflate(value: StoredValue, name: string, maxSessionBytes: number, left: number): Promise<Encoded> {
  try {
    return await fromStoredValue(value, Math.min(left, maxSessionBytes));
  } catch (error) {
    // The zlib error's own text says nothing the app can act on; no part of the value goes into the message.
    const reason = (error as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE'
      ? 'holds bytes that are not a value this library wrote'
      : left < maxSessionBytes
        ? `would inflate the session past twice maxSessionBytes (${2 * maxSessionBytes} bytes; concurrent writers of different attributes can store that much)`
        : `would inflate past maxSessionBytes (${maxSessionBytes} bytes)`;
    throw new SessionUnreadableError(name, reason);
  }
}

function decodeEncoded(encoded: Encoded, name: string, serializer: Serializer): unknown {
  try {
    return serializer.decode(encoded, name);
  } catch (error) {
    if (error instanceof SessionUnreadableError) throw error;
    // A custom serializer's own typed error reaches the app as it is, unless it speaks of storing: this is a read.
    if (error instanceof SessionError && !(error instanceof SessionSerializationError)) throw error;
    // Only the error's name: a parser's message may quote the stored text.
    throw new SessionUnreadableError(name, `could not be decoded by the serializer (${(error as Error).name})`);
  }
}

/**
 * Encodes every attribute the session would store. Refuses reserved names and
 * a session whose encoding is over `maxSessionBytes` (413, before any write).
 */
export function encodeAttributes(session: Session, settings: CodecSettings): Map<string, Encoded> {
  const encoded = new Map<string, Encoded>();
  const filter = settings.attributeFilter;
  // An upper bound first (3 UTF-8 bytes per UTF-16 unit): exact byte counts only for sessions near the limit.
  let bound = 0;
  for (const [name, value] of attributesOf(session)) {
    if (FORBIDDEN_KEYS.has(name) || RESERVED_NAMES.has(name)) {
      throw new SessionKeyError(`A session attribute may not be named "${name}"; it is ${FORBIDDEN_KEYS.has(name) ? 'a prototype key' : 'a session member'}.`);
    }
    // Measured only when it could be too long (3 UTF-8 bytes per UTF-16 unit at most): this runs for every attribute of every commit.
    if (name === '' || (name.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)) {
      throw new SessionKeyError(`A session attribute name must have 1 to ${MAX_NAME_BYTES} bytes.`);
    }
    // Attributes the filter does not name live for this request only.
    if (filter !== undefined && !filter.test(name)) continue;
    const one = settings.serializer.encode(value, name);
    encoded.set(name, one);
    bound += typeof one === 'string' ? one.length * 3 : one.byteLength;
  }
  if (bound <= settings.maxSessionBytes) return encoded;
  let total = 0;
  for (const value of encoded.values()) total += encodedSize(value);
  if (total > settings.maxSessionBytes) {
    const largest = [...encoded].map(([name, v]) => ({ name, bytes: encodedSize(v) })).sort((a, b) => b.bytes - a.bytes).slice(0, 3);
    throw new SessionTooLargeError(total, settings.maxSessionBytes, largest, {
      what: `Session data is ${total} bytes before compression, over maxSessionBytes (${settings.maxSessionBytes})`,
    });
  }
  return encoded;
}

/** Stored forms of encodings: compressed above the threshold. */
export async function toStored(entries: Iterable<[string, Encoded]>, settings: CodecSettings): Promise<Map<string, StoredValue>> {
  const { compressThreshold, compression } = settings;
  const stored = new Map<string, StoredValue>();
  const compressing: Array<Promise<void>> = [];
  for (const [name, value] of entries) {
    // Text too short to reach the threshold is stored as it is, without a trip through a promise.
    if (typeof value === 'string' && isBelowThreshold(value, compressThreshold)) stored.set(name, value);
    else compressing.push(toStoredValue(value, compressThreshold, compression).then((v) => void stored.set(name, v)));
  }
  if (compressing.length > 0) await Promise.all(compressing);
  return stored;
}
