import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { quietLogger } from '../../support/quiet-logger';
import { ATTR, HEAD_PART } from '../../../lib/store/dynamodb/item-attributes';
import { contentHash } from '../../../lib/store/dynamodb/split-items';
import { SplitLayout } from '../../../lib/store/dynamodb/split-layout';
import type { Item, StoreIo } from '../../../lib/store/dynamodb/store-io';

/**
 * What an eventually consistent read of a split session may show (docs/guarantees.md, "Eventual reads").
 * DynamoDB Local is always consistent, so the replicas are simulated: an eventual Query answers items from
 * different moments, a strong one the items as they are. An eventual read shows a head with exactly the part
 * content it names, or falls back to a strong read; never a head paired with part content older (or newer)
 * than it names.
 */
const now = Date.UTC(2030, 0, 1);
const expiresAt = Math.floor(now / 1000) + 1800;

function head(version: number, claims: Record<string, number>, inline: Record<string, string> = {}): Item {
  return {
    [ATTR.key]: 'k', [ATTR.part]: HEAD_PART, [ATTR.version]: version, [ATTR.createdAt]: now, [ATTR.lastAccessedAt]: now, [ATTR.expiresAt]: expiresAt,
    [ATTR.data]: inline, [ATTR.parts]: claims, [ATTR.partSince]: Object.fromEntries(Object.keys(claims).map((name) => [name, 0])),
    [ATTR.partInfo]: Object.fromEntries(Object.keys(claims).map((name) => [name, [contentHash(`value of ${name}@${claims[name]}`), now]])),
    [ATTR.partsExpireAt]: expiresAt + 3600,
  };
}
const part = (name: string, v: number): Item => ({ [ATTR.key]: 'k', [ATTR.part]: `a#${name}`, [ATTR.partVersion]: v, [ATTR.value]: `value of ${name}@${v}` });

/** A split layout over simulated replicas: `eventual` answers eventual Queries, `strong` the strong ones. */
function replicas(eventual: Item[], strong: Item[]) {
  const queries: boolean[] = [];
  const documents = {
    send: (command: { input: { ConsistentRead?: boolean } }) => {
      const consistent = command.input.ConsistentRead === true;
      queries.push(consistent);
      return Promise.resolve({ Items: consistent ? strong : eventual });
    },
  } as unknown as DynamoDBDocumentClient;
  const io: StoreIo = {
    documents, readTimeout: 2000, writeTimeout: 3000, keyPrefix: '', principalIndexes: new Map(),
    call: (_table, _operation, _timeout, send) => send({ abortSignal: { aborted: false } as never }),
    read: () => Promise.reject(new Error('no GetItem in a split read')),
    keyOf: (key) => ({ [ATTR.key]: key, [ATTR.part]: HEAD_PART }),
    partKeyOf: (key, p) => ({ [ATTR.key]: key, [ATTR.part]: p }),
  };
  const layout = new SplitLayout(io, { table: 't', partThreshold: 64, eventualConsistency: true, logger: quietLogger, now: () => now });
  return { layout, queries };
}

describe('eventual reads of a split session', () => {
  const settled = [head(3, { x: 3 }), part('x', 3)];

  it.each([
    ['a head and the parts it names', settled, 'value of x@3', [false]],
    ['a head newer than its part (the part replica is behind): falls back to a strong read', [head(3, { x: 3 }), part('x', 2)], 'value of x@3', [false, true]],
    ['a part newer than its head (the head replica is behind): falls back to a strong read', [head(2, { x: 2 }), part('x', 3)], 'value of x@3', [false, true]],
    ['a head whose part is missing on the replica: falls back to a strong read', [head(3, { x: 3 })], 'value of x@3', [false, true]],
    ['an older head that still had the attribute inline, beside a newer part it does not name: the older session as a whole', [head(2, {}, { x: 'inline' }), part('x', 3)], 'inline', [false]],
  ])('%s', async (_what, eventual, x, queries) => {
    const read = replicas(eventual, settled);
    const session = await read.layout.get('k');
    expect(session?.data['x']).toBe(x);
    expect(read.queries).toEqual(queries);
  });

  it('never pairs a head with content of an earlier stint as a part, even on the eventual replica', async () => {
    const stale = head(5, { x: 5 });
    (stale[ATTR.partSince] as Record<string, number>)['x'] = 4; // x became a part again at version 4: content 2 is a leftover
    const strong = [stale, part('x', 5)];
    const read = replicas([stale, part('x', 2)], strong);
    expect((await read.layout.get('k'))?.data['x']).toBe('value of x@5');
    expect(read.queries).toEqual([false, true]);
  });

  it('shows no session for parts without a head', async () => {
    const read = replicas([part('x', 3)], []);
    expect(await read.layout.get('k')).toBeUndefined();
    expect(read.queries).toEqual([false]);
  });
});
