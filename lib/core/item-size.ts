import { AttributeSize, SessionTooLargeError } from './errors';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;
/**
 * Bytes of the metadata besides the key and the principal, counted at their
 * largest: the attribute names (data, version, createdAt, lastAccessedAt,
 * expiresAt, absoluteExpiresAt, maxInactiveInterval, writeToken, principal,
 * lockOwner, lockExpires, authenticatedAt, userAgent, ip: 144 bytes), eight
 * numbers at DynamoDB's 21-byte maximum, a write token and a lease owner.
 */
const FIXED_METADATA_BYTES = 144 + 8 * 21 + 40 + 24;
/** The longest principal setPrincipal() accepts, in UTF-8 bytes. */
export const MAX_PRINCIPAL_BYTES = 1024;

/** What the item carries besides its data map: the key as the store writes it, and its strings (principal, client info). */
export function metadataBytes(keyBytes: number, strings: ReadonlyArray<string | undefined>): number {
  let total = FIXED_METADATA_BYTES + keyBytes;
  for (const value of strings) if (value !== undefined) total += Buffer.byteLength(value, 'utf8');
  return total;
}

/** A map costs 3 bytes plus 1 byte per entry on top of its names and values. */
const MAP_BYTES = 3;
const MAP_ENTRY_BYTES = 1;

/** The item's size in bytes, counted as DynamoDB does, from its attribute sizes. */
export function itemBytes(sizes: ReadonlyMap<string, number>, metadata: number): number {
  let total = metadata + MAP_BYTES;
  for (const [name, bytes] of sizes) total += Buffer.byteLength(name, 'utf8') + bytes + MAP_ENTRY_BYTES;
  return total;
}

/**
 * Sizes the item the way DynamoDB counts it and refuses it before any write,
 * naming the largest attributes so the fix is obvious. Returns the size.
 */
export function assertItemFits(sizes: ReadonlyMap<string, number>, metadata: number): number {
  const total = itemBytes(sizes, metadata);
  if (total <= MAX_ITEM_BYTES) return total;
  const largest: AttributeSize[] = [...sizes]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3);
  throw new SessionTooLargeError(total, MAX_ITEM_BYTES, largest);
}
