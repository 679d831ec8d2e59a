import { createHash } from 'node:crypto';
import { AttributeSize, SessionTooLargeError } from '../../core/errors';
import { itemBytes, MAX_ITEM_BYTES } from '../../core/item-size';
import type { StoredSession, StoredValue } from '../../core/session-store';
import { storedSize } from '../../core/stored-value';
import { ATTR, HEAD_PART } from './item-attributes';
import { toStoredSession } from './item-codec';
import type { Item } from './store-io';

/**
 * The pure half of the split layout (docs/dynamodb.md, "Item layouts"): where an attribute lives, how a session is
 * put together from its items, how long parts live, and how big the items are.
 *
 * The head is the session's commit record: every commit writes it first (guards, lease, version), and it names the
 * attributes that live in parts (`parts`: name -> the head version that claimed the part). A part's content carries
 * that version, and a part write only replaces older content, so parts change in the order the head claimed them.
 * A claim whose content has not landed (yet) is "pending": readers see the value from before it.
 */

/** Names up to this many bytes are the sort key themselves ('a#' + name); longer ones go by their hash (DynamoDB allows 1,024 bytes). */
const NAME_IN_KEY_MAX_BYTES = 1000;

export function partKeyOf(name: string): string {
  return Buffer.byteLength(name, 'utf8') <= NAME_IN_KEY_MAX_BYTES ? `a#${name}` : `h#${createHash('sha256').update(name).digest('base64url')}`;
}

/** Whether the attribute's value gets an item of its own. */
export function isPart(value: StoredValue, partThreshold: number): boolean {
  return storedSize(value) > partThreshold;
}

/** 96 bits of SHA-256: the head's record of a part's content, what an optimistic guard compares. */
export function contentHash(value: StoredValue): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 16);
}

/** A part outlives its head by at least this much, so touches rarely have to extend it (one write per part). */
const PART_SLACK_SECONDS = 7 * 24 * 3600;

/** Epoch seconds a part written now lives until: well past its head's deadline, and at least twice the idle timeout. */
export function partExpiresAt(headExpiresAt: number, nowSeconds: number): number {
  return headExpiresAt + Math.max(PART_SLACK_SECONDS, 2 * (headExpiresAt - nowSeconds));
}

export interface PartRecord {
  /** contentHash() of the claimed content. */
  readonly hash: string;
  /** Epoch ms of the claim: a claim older than any write's deadline whose content never landed was given up. */
  readonly claimedAt: number;
}

/** The head's part registry: per part, its claim version, the version before its first claim, and its record. */
export interface Registry {
  readonly versions: ReadonlyMap<string, number>;
  readonly since: ReadonlyMap<string, number>;
  readonly info: ReadonlyMap<string, PartRecord>;
}

export function registryOf(head: Item | undefined): Registry {
  const numbers = (attribute: string): Map<string, number> =>
    new Map(Object.entries((head?.[attribute] ?? {}) as Record<string, unknown>).map(([name, n]) => [name, Number(n)]));
  const info = new Map<string, PartRecord>();
  for (const [name, entry] of Object.entries((head?.[ATTR.partInfo] ?? {}) as Record<string, unknown>)) {
    const [hash, claimedAt] = Array.isArray(entry) ? (entry as unknown[]) : [];
    info.set(name, { hash: typeof hash === 'string' ? hash : '', claimedAt: Number(claimedAt ?? 0) });
  }
  return { versions: numbers(ATTR.parts), since: numbers(ATTR.partSince), info };
}

/** A part's content version, or -1 without content (no part item, or only a fence: split-parts.ts). */
export function contentVersion(part: Item | undefined): number {
  const v = part?.[ATTR.partVersion] as unknown;
  return v === undefined ? -1 : Number(v);
}

/** The highest claim fenced on a part (split-parts.ts), or -1: no content of that claim or an earlier one lands after it. */
export function fenceOf(part: Item | undefined): number {
  const f = part?.[ATTR.partFence] as unknown;
  return f === undefined ? -1 : Number(f);
}

/** The items of one session, split into its head and its parts by sort key. */
export function partsByKey(items: readonly Item[]): { head: Item | undefined; parts: Map<string, Item> } {
  const head = items.find((item) => item[ATTR.part] === HEAD_PART);
  return { head, parts: new Map(items.filter((item) => item !== head).map((item) => [String(item[ATTR.part]), item])) };
}

/** The attributes whose claimed content has not landed: their part is missing or holds older content. */
export function pendingClaims(head: Item, parts: ReadonlyMap<string, Item>): string[] {
  return [...registryOf(head).versions].filter(([name, claim]) => contentVersion(parts.get(partKeyOf(name))) !== claim).map(([name]) => name);
}

/**
 * A session from the items of its key, or undefined without a head (parts alone are
 * orphans: a part write that raced a destroy). For each attribute the head names:
 * the newest content its part got since the attribute became a part (the claimed
 * content once it has landed); before any has landed, the value it had before:
 * inline in the head (kept there until the part lands), or none. Content older than
 * that (left from an earlier time the attribute was a part) is never read.
 */
export function assemble(items: readonly Item[]): StoredSession | undefined {
  const { head, parts } = partsByKey(items);
  if (!head) return undefined;
  const inline = (head[ATTR.data] ?? {}) as Record<string, StoredValue>;
  const { versions, since } = registryOf(head);
  const data = Object.create(null) as Record<string, StoredValue>;
  for (const [name, value] of Object.entries(inline)) if (!versions.has(name)) data[name] = value;
  for (const name of versions.keys()) {
    const part = parts.get(partKeyOf(name));
    const value = contentVersion(part) > (since.get(name) ?? 0) ? (part![ATTR.value] as StoredValue) : inline[name];
    if (value !== undefined) data[name] = value;
  }
  return toStoredSession({ ...head, [ATTR.data]: data });
}

/** DynamoDB's Query page: a split session is read in one call up to this size. */
export const MAX_SESSION_BYTES_SPLIT = 1024 * 1024;
/** A part's attributes besides its key and value, at their largest: names (part, value, v, expiresAt, writeToken, name: 35 bytes), two numbers, a token. */
const PART_METADATA_BYTES = 35 + 2 * 21 + 40;
/** The head's extra attribute names (part, parts, partSince, partInfo, partsExpireAt) and their values' overhead. */
const HEAD_EXTRA_BYTES = 4 + 1 + 5 + 3 + 9 + 3 + 8 + 3 + 13 + 21;
/** Per part, in the head's registry, beside three copies of the name: two versions and [hash, claimedAt]. */
const REGISTRY_ENTRY_BYTES = 3 * 1 + 2 * 21 + 3 + 2 + 1 + 16 + 1 + 21;

/**
 * Sizes a split session as DynamoDB counts it: no item over 400 KB, all of them within one Query page.
 * Returns the total bytes; throws SessionTooLargeError naming the largest attributes otherwise.
 */
export function assertSplitFits(
  sizes: ReadonlyMap<string, number>, metadataBytes: number, keyBytes: number, partThreshold: number, before?: ReadonlyMap<string, number>,
): number {
  const inline = new Map<string, number>();
  let registry = 0;
  let total = 0;
  const tooLarge: AttributeSize[] = [];
  for (const [name, bytes] of sizes) {
    if (bytes <= partThreshold) {
      inline.set(name, bytes);
      continue;
    }
    const nameBytes = Buffer.byteLength(name, 'utf8');
    registry += 3 * nameBytes + REGISTRY_ENTRY_BYTES;
    // An attribute moving into its part keeps its old inline value in the head until the part has landed.
    const was = before?.get(name);
    if (was !== undefined && was <= partThreshold) registry += nameBytes + 1 + was;
    const part = keyBytes + Buffer.byteLength(partKeyOf(name), 'utf8') + PART_METADATA_BYTES + nameBytes + bytes;
    if (part > MAX_ITEM_BYTES) tooLarge.push({ name, bytes });
    total += part;
  }
  const head = itemBytes(inline, metadataBytes + HEAD_EXTRA_BYTES + registry);
  total += head;
  const largest = (): AttributeSize[] => [...sizes].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 3);
  if (tooLarge.length > 0) {
    throw new SessionTooLargeError(total, MAX_ITEM_BYTES, tooLarge.sort((a, b) => b.bytes - a.bytes).slice(0, 3), {
      what: `A session attribute is over DynamoDB's item limit of ${MAX_ITEM_BYTES} bytes even in an item of its own`,
    });
  }
  if (head > MAX_ITEM_BYTES) {
    throw new SessionTooLargeError(head, MAX_ITEM_BYTES, [...inline].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 3), {
      what: `The session's small attributes take ${head} bytes together, over DynamoDB's item limit of ${MAX_ITEM_BYTES} bytes for the head item`,
    });
  }
  if (total > MAX_SESSION_BYTES_SPLIT) {
    throw new SessionTooLargeError(total, MAX_SESSION_BYTES_SPLIT, largest(), {
      what: `Session is ${total} bytes, over the ${MAX_SESSION_BYTES_SPLIT} bytes a split session may take (one Query page)`,
    });
  }
  return total;
}
