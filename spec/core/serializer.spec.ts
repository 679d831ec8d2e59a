import { expect } from '@jest/globals';
import { jsonSerializer, MAX_DEPTH } from '../../lib/core/serializer';
import { SessionKeyError, SessionSerializationError, SessionUnreadableError } from '../../lib';

describe('jsonSerializer', () => {
  it('encodes equal values to equal text whatever the key order', () => {
    expect(jsonSerializer.encode({ b: 1, a: { d: 2, c: 3 } }, 'x')).toBe(jsonSerializer.encode({ a: { c: 3, d: 2 }, b: 1 }, 'x'));
  });

  it('round-trips JSON data', () => {
    const value = { s: 'ü ✓', n: -1.5, t: true, z: null, list: [1, 'two', { three: 3 }], empty: {} };
    expect(jsonSerializer.decode(jsonSerializer.encode(value, 'v'), 'v')).toEqual(value);
  });

  it.each([
    ['a function', { f: () => 1 }, 'cart.f', 'a function'],
    ['a symbol', [Symbol('s')], 'cart[0]', 'a symbol'],
    ['a BigInt', { n: 10n }, 'cart.n', 'a bigint'],
    ['NaN', { n: NaN }, 'cart.n', 'NaN is not a finite number'],
    ['Infinity', [1, Infinity], 'cart[1]', 'Infinity is not a finite number'],
    ['a Map', { m: new Map() }, 'cart.m', 'a Map instance'],
    ['a Set', new Set([1]), 'cart', 'a Set instance'],
    ['a Date', { at: new Date(0) }, 'cart.at', 'toISOString'],
    ['a class instance', { u: new (class User {})() }, 'cart.u', 'a User instance'],
    ['undefined in an array', [undefined], 'cart[0]', 'undefined would become null'],
  ])('refuses %s and names the path', (_, value, path, reason) => {
    const attempt = () => jsonSerializer.encode(value, 'cart');
    expect(attempt).toThrow(SessionSerializationError);
    expect(attempt).toThrow(new RegExp(`attribute ${path.replace(/[[\].]/g, '\\$&')} cannot be stored: .*${reason}`));
  });

  it('refuses values nested deeper than MAX_DEPTH with a 413 instead of overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const attempt = () => jsonSerializer.encode(deep, 'tree');
    expect(attempt).toThrow(new RegExp(`nested more than ${MAX_DEPTH} levels deep`));
    let thrown: unknown;
    try {
      attempt();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toMatchObject({ name: 'SessionSerializationError', status: 413, path: expect.stringMatching(/^tree(\[0\])+$/) });
    let fits: unknown = 1;
    for (let i = 0; i < MAX_DEPTH; i++) fits = { down: fits };
    expect(jsonSerializer.decode(jsonSerializer.encode(fits, 'tree'), 'tree')).toEqual(fits);
  });

  it('refuses cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a['self'] = { back: a };
    expect(() => jsonSerializer.encode(a, 'node')).toThrow(/node\.self\.back cannot be stored: it refers to itself/);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(jsonSerializer.encode({ a: shared, b: shared }, 'v')).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s at any depth', (key) => {
    const value = JSON.parse(`{"deep":{"${key}":{"isAdmin":true}}}`) as unknown;
    expect(() => jsonSerializer.encode(value, 'profile')).toThrow(SessionKeyError);
  });

  it('drops prototype-polluting keys at every depth on decode', () => {
    const decoded = jsonSerializer.decode('{"a":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"ok":1}}', 'v') as { a: Record<string, unknown> };
    expect(decoded).toEqual({ a: { ok: 1 } });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(decoded.a)).toBe(Object.prototype);
  });

  it('drops a dangerous key spelled with JSON unicode escapes too', () => {
    const decoded = jsonSerializer.decode('{"\\u005f_proto__":{"polluted":true},"ok":1}', 'v') as Record<string, unknown>;
    expect(decoded).toEqual({ ok: 1 });
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
  });

  it('reports corrupt stored text as a SessionUnreadableError (422) that does not quote it', () => {
    const attempt = (): unknown => jsonSerializer.decode('{"token":"s3cr3t", oops', 'cart');
    expect(attempt).toThrow(SessionUnreadableError);
    expect(attempt).toThrow(/^The stored session could not be read: attribute "cart" holds stored text that is not JSON\. /);
    expect(attempt).not.toThrow(/s3cr3t/);
  });

  it('answers 400 for an out-of-range number (client JSON like 1e400 parses to Infinity) and 500 for NaN (the app\'s own arithmetic)', () => {
    const status = (value: unknown): number | undefined => {
      try {
        jsonSerializer.encode(value, 'v');
      } catch (e) {
        return (e as SessionSerializationError).status;
      }
      return undefined;
    };
    expect(status(JSON.parse('{"n":1e400}'))).toBe(400);
    expect(status([-Infinity])).toBe(400);
    expect(status({ n: NaN })).toBe(500);
  });

  describe('refuses values JSON would silently change', () => {
    const withProperty = Object.assign([1, 2], { label: 'x' });
    const sym = Symbol('tag');
    it.each([
      // eslint-disable-next-line no-sparse-arrays -- the hole is what is under test
      ['a sparse array', [1, , 3], /cart\[1\] cannot be stored: a sparse array has a hole/],
      ['a trailing hole', new Array(2), /cart\[0\] cannot be stored: a sparse array has a hole/],
      ['a property on an array', withProperty, /cart\.label cannot be stored: a property on an array would be dropped/],
      ['a nested array property', { rows: withProperty }, /cart\.rows\.label cannot be stored/],
      ['a symbol key', { [sym]: 1, ok: 1 }, /cart\[Symbol\(tag\)\] cannot be stored: a symbol-keyed property/],
      ['a symbol key on an array', Object.assign([1], { [sym]: 1 }), /symbol-keyed property/],
    ])('%s', (_name, value, message) => {
      expect(() => jsonSerializer.encode(value, 'cart')).toThrow(SessionSerializationError);
      expect(() => jsonSerializer.encode(value, 'cart')).toThrow(message);
    });

    it('still accepts dense arrays, empty arrays and non-enumerable symbols', () => {
      const hidden = { ok: 1 };
      Object.defineProperty(hidden, Symbol('internal'), { value: 1, enumerable: false });
      expect(jsonSerializer.encode([[], [1, 2], hidden], 'v')).toBe('[[],[1,2],{"ok":1}]');
    });
  });
});
