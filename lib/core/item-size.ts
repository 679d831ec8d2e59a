import { AttributeSize, SessionTooLargeError } from './errors';

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;
/**
 * Bytes of everything but the data map, counted generously: key, version,
 * timestamps, principal, lock and write-token attributes with their names.
 */
const METADATA_BYTES = 512;
/** A map costs 3 bytes plus 1 byte per entry on top of its names and values. */
const MAP_BYTES = 3;
const MAP_ENTRY_BYTES = 1;

/** The item's size in bytes, counted as DynamoDB does, from its attribute sizes. */
export function itemBytes(sizes: ReadonlyMap<string, number>): number {
  let total = METADATA_BYTES + MAP_BYTES;
  for (const [name, bytes] of sizes) total += Buffer.byteLength(name, 'utf8') + bytes + MAP_ENTRY_BYTES;
  return total;
}

/**
 * Sizes the item the way DynamoDB counts it and refuses it before any write,
 * naming the largest attributes so the fix is obvious. Returns the size.
 */
export function assertItemFits(sizes: ReadonlyMap<string, number>): number {
  const total = itemBytes(sizes);
  if (total <= MAX_ITEM_BYTES) return total;
  const largest: AttributeSize[] = [...sizes]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3);
  throw new SessionTooLargeError(total, MAX_ITEM_BYTES, largest);
}
