import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDbStoreOptions } from '../../lib';

/**
 * The item layout the DynamoDB specs run on: jest runs every integration spec once per
 * layout (jest.config.js projects set SESSION_LAYOUT). Run alone, a spec uses 'split',
 * the default for new tables.
 */
export const LAYOUT: 'single' | 'split' = process.env['SESSION_LAYOUT'] === 'single' ? 'single' : 'split';

/**
 * Under test, the split layout puts any attribute over 64 bytes in a part of its own, so
 * the specs' everyday values (carts, profiles, counters' neighbours) exercise the part
 * paths, not only the head: moves between head and part, part guards, part deletes.
 */
export const SPEC_PART_THRESHOLD = 64;

export const LAYOUT_OPTIONS: Pick<DynamoDbStoreOptions, 'layout' | 'partThreshold'> =
  LAYOUT === 'split' ? { layout: 'split', partThreshold: SPEC_PART_THRESHOLD } : { layout: 'single' };

/** The call a plain (unlocked) session read makes: one GetItem, or in the split layout one Query. */
export const READ_CALL = LAYOUT === 'split' ? 'Query' : 'GetItem';

/** The key of a session's item (its head, when split) in the low-level form, for specs that change items by hand. */
export function rawKey(key: string): Record<string, AttributeValue> {
  return LAYOUT === 'split' ? { sessionId: { S: key }, part: { S: '#' } } : { sessionId: { S: key } };
}

/** What a hand-made session item needs besides the single layout's attributes: in the split layout, a head's sort key and empty part registry. */
export const RAW_HEAD_FIELDS: Record<string, AttributeValue> = LAYOUT === 'split' ? { part: { S: '#' }, parts: { M: {} }, partSince: { M: {} }, partInfo: { M: {} } } : {};

type RawItem = Record<string, unknown>;

/**
 * Raw items as one item per session, written independently of the store's reader so specs
 * can check what is stored: a head's `data` gets the values of the parts its `parts`
 * registry names (the part's content, or the inline value while a part write is pending).
 * Single-layout items and parts without a head pass through unchanged.
 */
export function logicalItems(items: readonly RawItem[]): RawItem[] {
  const heads = items.filter((item) => item['part'] === '#');
  const partsOf = new Map<string, Map<string, RawItem>>();
  for (const item of items) {
    if (item['part'] === undefined || item['part'] === '#') continue;
    const key = String(item['sessionId']);
    if (!partsOf.has(key)) partsOf.set(key, new Map());
    partsOf.get(key)!.set(item['part'] as string, item);
  }
  const headKeys = new Set(heads.map((head) => String(head['sessionId'])));
  const result: RawItem[] = items.filter((item) => item['part'] === undefined || (item['part'] !== '#' && !headKeys.has(String(item['sessionId']))));
  for (const head of heads) {
    const registry = (head['parts'] ?? {}) as Record<string, number>;
    const inline = (head['data'] ?? {}) as Record<string, unknown>;
    const data: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(inline)) if (!(name in registry)) data[name] = value;
    for (const [name, claim] of Object.entries(registry)) {
      const part = partsOf.get(String(head['sessionId']))?.get(`a#${name}`);
      const value = part && Number(part['v']) === Number(claim) ? part['value'] : name in inline ? inline[name] : part?.['value'];
      if (value !== undefined) data[name] = value;
    }
    result.push({ ...head, data });
  }
  return result;
}
