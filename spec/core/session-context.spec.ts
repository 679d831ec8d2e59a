import { keyOf } from '../support/cookies';
import { quietLogger } from '../support/quiet-logger';
import { MemoryStore, SessionStoreUnavailableError, SessionTooLargeError, StoredSession, SessionConflictError, SessionKeyError } from '../../lib';
import { testManager } from '../support/manager';

/** A MemoryStore whose next calls can be made to fail, to see what the context does then. */
class FlakyStore extends MemoryStore {
  failGets = false;
  override async get(key: string): Promise<StoredSession | undefined> {
    if (this.failGets) throw new SessionStoreUnavailableError('store down');
    return super.get(key);
  }
}

describe('SessionContext lifecycle (MemoryStore, injected clock)', () => {
  it('loads lazily: commit without load writes nothing and reads nothing', async () => {
    const store = new MemoryStore();
    const get = jest.spyOn(store, 'get');
    const t = testManager({}, store);
    await t.run((s) => void (s['a'] = 1));
    const ctx = t.request();
    expect(await ctx.commit()).toEqual({ headers: [] });
    expect(get).toHaveBeenCalledTimes(0);
  });

  it('load() is memoized: one store read however often it is awaited', async () => {
    const store = new MemoryStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['a'] = 1));
    const get = jest.spyOn(store, 'get');
    const ctx = t.request();
    const [a, b] = await Promise.all([ctx.load(), ctx.load()]);
    expect(a).toBe(b);
    expect(get).toHaveBeenCalledTimes(1);
  });

  it('exposes id and isNew as non-enumerable, read-only members that are never stored', async () => {
    const t = testManager();
    await t.run((s) => {
      expect(s.isNew).toBe(true);
      s['a'] = 1;
      expect(Object.keys(s)).toEqual(['a']);
      expect(JSON.stringify(s)).toBe('{"a":1}');
      expect(() => ((s as { id: string }).id = 'x')).toThrow(SessionKeyError);
    });
    await t.run((s) => expect(s.isNew).toBe(false));
  });

  it('refuses attributes named after prototype keys or session members, at assignment or at commit, and stores nothing', async () => {
    const t = testManager();
    await t.run((s) => void (s['kept'] = 1));
    await t.run((s) => expect(() => ((s as Record<string, unknown>)['__proto__'] = { polluted: true })).toThrow(SessionKeyError));
    for (const name of ['constructor', 'prototype', 'destroy', 'touch']) {
      await expect(t.run((s) => void Object.defineProperty(s, name, { value: 'x', enumerable: true, writable: true }))).rejects.toThrow(SessionKeyError);
    }
    await t.run((s) => {
      expect({ ...s }).toEqual({ kept: 1 });
      expect(Object.getPrototypeOf(s)).not.toHaveProperty('polluted');
    });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('treats an attribute set to undefined as removed', async () => {
    const t = testManager();
    await t.run((s) => void Object.assign(s, { a: 1, b: 2 }));
    await t.run((s) => void (s['a'] = undefined));
    await t.run((s) => expect({ ...s }).toEqual({ b: 2 }));
  });

  it('regenerate() keeps createdAt and the absolute deadline; destroy() then a write starts a brand-new session', async () => {
    const t = testManager({ absoluteTimeout: 3600 });
    await t.run((s) => void (s['a'] = 1));
    const firstKey = keyOf(t.cookie()!);
    const first = (await t.store.get(firstKey))!;
    t.clock.now += 60_000;
    await t.run((s) => s.regenerate());
    const secondKey = keyOf(t.cookie()!);
    expect(await t.store.get(firstKey)).toBeUndefined();
    const second = (await t.store.get(secondKey))!;
    expect(second.createdAt).toBe(first.createdAt);
    expect(second.absoluteExpiresAt).toBe(first.absoluteExpiresAt);

    t.clock.now += 60_000;
    await t.run((s) => {
      s.destroy();
      expect({ ...s }).toEqual({});
      s['flash'] = 'signed out';
    });
    expect(await t.store.get(secondKey)).toBeUndefined();
    const third = (await t.store.get(keyOf(t.cookie()!)))!;
    expect(third.createdAt).toBe(t.clock.now);
    expect(third.data).toEqual({ flash: '"signed out"' });
  });

  it('ends a session at its absolute deadline even when it is used all the time', async () => {
    const t = testManager({ absoluteTimeout: 600, maxInactiveInterval: 300, touchAfter: 0 });
    await t.run((s) => void (s['user'] = 'ada'));
    for (let i = 0; i < 5; i++) {
      t.clock.now += 100_000;
      await t.run((s) => expect(s['user']).toBe('ada'));
    }
    t.clock.now += 100_001;
    await t.run((s) => expect(s.isNew).toBe(true));
  });

  it('commits again only what changed since the previous commit', async () => {
    const store = new MemoryStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['a'] = 1));
    const update = jest.spyOn(store, 'update');
    const ctx = t.request();
    const s = await ctx.load();
    s['b'] = 2;
    await ctx.commit();
    s['c'] = 3;
    await ctx.commit();
    await ctx.commit();
    expect(update.mock.calls.map(([, u]) => [...u.set.keys()])).toEqual([['b'], ['c']]);
  });

  it('refuses a session over 400 KB and keeps the stored one as it was', async () => {
    const t = testManager({ compressThreshold: 10_000_000 }); // no compression, to reach the limit
    await t.run((s) => void (s['small'] = 'kept'));
    const key = keyOf(t.cookie()!);
    const before = await t.store.get(key);
    await expect(t.run((s) => void (s['photo'] = 'x'.repeat(450 * 1024)))).rejects.toThrow(SessionTooLargeError);
    expect(await t.store.get(key)).toEqual(before);
  });

  it('stores a compressible 300 KB value gzipped and reads it back', async () => {
    const t = testManager();
    const big = { rows: Array.from({ length: 12_000 }, (_, i) => ({ i, label: 'row' })) };
    await t.run((s) => void (s['report'] = big));
    const stored = (await t.store.get(keyOf(t.cookie()!)))!;
    expect(stored.data['report']).toBeInstanceOf(Uint8Array);
    expect((stored.data['report'] as Uint8Array).byteLength).toBeLessThan(JSON.stringify(big).length / 4);
    expect(JSON.stringify(big).length).toBeGreaterThan(300_000);
    await t.run((s) => expect(s['report']).toEqual(big));
  });

  it('a write to a session destroyed by another request fails with SessionConflictError instead of resurrecting it', async () => {
    const t = testManager();
    await t.run((s) => void (s['a'] = 1));
    const slow = t.request();
    const s = await slow.load();
    await t.run((other) => other.destroy());
    s['a'] = 2;
    await expect(slow.commit()).rejects.toThrow(SessionConflictError);
    expect(t.store instanceof MemoryStore && t.store.size).toBe(0);
  });

  it("onStoreError 'continue-without-session' serves reads an empty session, sets no cookie, and fails a write with the store's error", async () => {
    const store = new FlakyStore();
    const t = testManager({ onStoreError: 'continue-without-session', logger: quietLogger }, store);
    await t.run((s) => void (s['a'] = 1));
    store.failGets = true;
    const read = await t.run((s) => expect({ ...s }).toEqual({}));
    expect(read.headers).toEqual([]);
    // A change cannot be kept without the store: the request fails rather than being answered as if it were.
    await expect(t.run((s) => void (s['b'] = 2))).rejects.toThrow(SessionStoreUnavailableError);
    store.failGets = false;
    await t.run((s) => expect({ ...s }).toEqual({ a: 1 }));
  });

  it("onStoreError 'fail' surfaces the typed error from load", async () => {
    const store = new FlakyStore();
    const t = testManager({}, store);
    await t.run((s) => void (s['a'] = 1));
    store.failGets = true;
    await expect(t.request().load()).rejects.toThrow(SessionStoreUnavailableError);
  });

  it('emits created, saved, destroyed, expired and invalid events with storage keys only', async () => {
    const t = testManager();
    const events: string[] = [];
    for (const name of ['created', 'saved', 'destroyed', 'expired', 'invalid'] as const) {
      t.manager.on(name, (payload) => events.push(`${name}:${JSON.stringify(payload).includes(t.cookie()?.split('.')[0] ?? '@@') ? 'RAW ID LEAKED' : 'ok'}`));
    }
    await t.run((s) => void (s['a'] = 1));
    await t.run((s) => void (s['a'] = 2));
    await t.run((s) => s.destroy());
    await t.run((s) => void (s['a'] = 3));
    t.clock.now += 1801_000;
    await t.run(() => undefined);
    t.setCookie('forged');
    await t.run(() => undefined);
    expect(events).toEqual(['created:ok', 'saved:ok', 'destroyed:ok', 'created:ok', 'expired:ok', 'invalid:ok']);
  });

  it('a listener that throws does not fail the request', async () => {
    const errors: unknown[] = [];
    const t = testManager({ logger: { debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => errors.push(a) } });
    t.manager.on('created', () => {
      throw new Error('listener bug');
    });
    await t.run((s) => void (s['a'] = 1));
    expect(errors).toHaveLength(1);
  });

  it('reads the id from idHeader instead of a cookie when configured', async () => {
    const t = testManager({ idHeader: 'X-Session-Id' });
    const first = t.request();
    (await first.load())['a'] = 1;
    const { headers } = await first.commit();
    const issued = headers.find(([n]) => n === 'x-session-id')![1];
    expect(headers.some(([n]) => n === 'Set-Cookie')).toBe(false);
    const second = t.request({ headers: { 'x-session-id': issued } });
    expect({ ...(await second.load()) }).toEqual({ a: 1 });
  });
});
