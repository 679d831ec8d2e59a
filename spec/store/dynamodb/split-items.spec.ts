import { SessionTooLargeError } from '../../../lib';
import {
  assemble, assertSplitFits, contentHash, isPart, MAX_SESSION_BYTES_SPLIT, partExpiresAt, partKeyOf, registryOf,
} from '../../../lib/store/dynamodb/split-items';

type Item = Record<string, unknown>;
const NOW = 1_900_000_000;
const head = (over: Item = {}): Item => ({
  sessionId: 'k', part: '#', version: 5, createdAt: 1, lastAccessedAt: 2, expiresAt: NOW + 1800, data: {}, parts: {}, partInfo: {}, ...over,
});
const part = (name: string, value: string, v: number): Item => ({ sessionId: 'k', part: `a#${name}`, value, v, expiresAt: NOW + 9e5 });

describe('split layout: where an attribute lives', () => {
  it.each([
    ['x', 400, 'a short value', false],
    ['x', 10, 'eleven byte', true],
    ['x', 10, 'ten bytes!', false],
    ['x', 3, 'é', false], // 2 bytes in UTF-8
    ['x', 1, 'é', true],
  ])('%s with partThreshold %i: %j is a part: %s', (_name, threshold, value, expected) => {
    expect(isPart(value, threshold)).toBe(expected);
  });

  it('names an attribute in the sort key, or by its hash when it is too long for one', () => {
    expect(partKeyOf('cart')).toBe('a#cart');
    expect(partKeyOf('é'.repeat(500))).toBe(`a#${'é'.repeat(500)}`); // 1000 bytes
    const long = partKeyOf('é'.repeat(501));
    expect(long).toMatch(/^h#[\w-]{43}$/);
    expect(partKeyOf('é'.repeat(501))).toBe(long);
    expect(contentHash('a')).toHaveLength(16);
    expect(contentHash('a')).not.toBe(contentHash('b'));
    expect(contentHash(new Uint8Array([97]))).toBe(contentHash('a'));
  });

  it.each([
    ['a 30-minute session: a week past its head', NOW + 1800, NOW + 1800 + 7 * 86400],
    ['a 30-day session: twice its idle time past its head', NOW + 30 * 86400, NOW + 30 * 86400 + 60 * 86400],
  ])('parts outlive their head: %s', (_case, headExpiresAt, expected) => {
    expect(partExpiresAt(headExpiresAt, NOW)).toBe(expected);
  });
});

describe('split layout: a session from its items', () => {
  it.each<[string, Item[], Record<string, unknown> | undefined]>([
    ['no head: parts alone are orphans', [part('cart', '"c"', 1)], undefined],
    ['a head alone', [head({ data: { a: '1' } })], { a: '1' }],
    ['a part that belongs to its claim', [head({ data: { a: '1' }, parts: { cart: 4 }, partSince: { cart: 3 } }), part('cart', '"new"', 4)], { a: '1', cart: '"new"' }],
    ['a part whose write is pending: its older content of the same stint', [head({ parts: { cart: 5 }, partSince: { cart: 2 } }), part('cart', '"old"', 4)], { cart: '"old"' }],
    ['a move from the head pending: the inline value', [head({ data: { cart: '"inline"' }, parts: { cart: 5 }, partSince: { cart: 4 } })], { cart: '"inline"' }],
    ['a move landed, inline copy not yet dropped: the part', [head({ data: { cart: '"inline"' }, parts: { cart: 5 }, partSince: { cart: 4 } }), part('cart', '"part"', 5)], { cart: '"part"' }],
    ['a later claim pending after a landed move with a stale inline copy: the landed part', [head({ data: { cart: '"inline"' }, parts: { cart: 9 }, partSince: { cart: 4 } }), part('cart', '"part"', 5)], { cart: '"part"' }],
    ['a claimed part never written and nothing before: absent', [head({ parts: { cart: 5 }, partSince: { cart: 4 } })], {}],
    ['content left from an earlier stint as a part is never read (a removed value stays removed)', [head({ parts: { cart: 9 }, partSince: { cart: 8 } }), part('cart', '"removed"', 6)], {}],
    ['a part the head does not name: ignored', [head({ data: { a: '1' } }), part('cart', '"orphan"', 3)], { a: '1' }],
    ['an inline copy of a claimed attribute is not read beside its part', [head({ data: { cart: '"inline"' }, parts: { cart: 2 }, partSince: { cart: 1 } }), part('cart', '"part"', 2)], { cart: '"part"' }],
  ])('%s', (_case, items, data) => {
    const session = assemble(items);
    if (data === undefined) expect(session).toBeUndefined();
    else expect({ ...session!.data }).toEqual(data);
  });

  it('keeps a prototype-named attribute an own key, never a prototype', () => {
    const session = assemble([head({ data: JSON.parse('{"__proto__":"1","a":"2"}') as Record<string, string> })])!;
    expect(Object.getPrototypeOf(session.data)).toBeNull();
    expect(Object.keys(session.data).sort()).toEqual(['__proto__', 'a']);
  });

  it('reads the registry of a head, tolerating a malformed one', () => {
    const registry = registryOf(head({ parts: { a: 3 }, partSince: { a: 2 }, partInfo: { a: ['h', NOW], b: 'junk' } }));
    expect([...registry.versions]).toEqual([['a', 3]]);
    expect([...registry.since]).toEqual([['a', 2]]);
    expect(registry.info.get('a')).toEqual({ hash: 'h', claimedAt: NOW });
    expect(registry.info.get('b')).toEqual({ hash: '', claimedAt: 0 });
    expect(registryOf(undefined).versions.size).toBe(0);
  });
});

describe('split layout: sizes', () => {
  const KEY = 9 + 43 + 4;
  it.each<[string, Array<[string, number]>, number, RegExp | undefined]>([
    ['small attributes stay in the head', [['a', 100], ['b', 200]], 400, undefined],
    ['a 350 KB attribute fits in its own item', [['big', 350 * 1024], ['a', 10]], 400, undefined],
    ['700 KB in 100 KB attributes fits (one Query page)', Array.from({ length: 7 }, (_, i): [string, number] => [`p${i}`, 100 * 1024]), 400, undefined],
    ['one attribute over 400 KB even alone is refused, named', [['huge', 400 * 1024], ['a', 1]], 400, /even in an item of its own; nothing was written. Largest attributes: huge \(409600 B\)/],
    ['over one Query page in all is refused', Array.from({ length: 11 }, (_, i): [string, number] => [`p${i}`, 100 * 1024]), 400, /over the 1048576 bytes a split session may take/],
    ['small attributes over 400 KB together in the head are refused', Array.from({ length: 1100 }, (_, i): [string, number] => [`s${i}`, 380]), 400, /small attributes take \d+ bytes together/],
  ])('%s', (_case, sizes, threshold, error) => {
    const check = () => assertSplitFits(new Map(sizes), 500, KEY, threshold);
    if (error === undefined) {
      const total = check();
      expect(total).toBeGreaterThan(sizes.reduce((sum, [, b]) => sum + b, 0));
      expect(total).toBeLessThanOrEqual(MAX_SESSION_BYTES_SPLIT);
    } else {
      expect(check).toThrow(SessionTooLargeError);
      expect(check).toThrow(error);
    }
  });
});
