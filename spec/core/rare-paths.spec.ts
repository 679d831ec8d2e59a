import { gzipSync, brotliCompressSync } from 'node:zlib';
import { keyOf } from '../support/cookies';
import { quietLogger } from '../support/quiet-logger';
import { loginRace, testManager } from '../support/manager';
import {
  MemoryStore, SessionConflictError, SessionStoreUnavailableError, SessionTooLargeError, SessionUnreadableError, StoredSession,
} from '../../lib';
import type { LockOutcome } from '../../lib/core/session-store';

/** A MemoryStore whose reads can be switched off, as during an outage. */
class OutageStore extends MemoryStore {
  down = false;
  override async get(key: string): Promise<StoredSession | undefined> {
    if (this.down) throw new SessionStoreUnavailableError('store down');
    return super.get(key);
  }
}

/** A MemoryStore that counts lease takes and releases. */
class LeaseCountingStore extends MemoryStore {
  held = new Set<string>();
  override async acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    const outcome = await super.acquire(key, owner, leaseUntil, now);
    if (outcome.status === 'locked') this.held.add(key);
    return outcome;
  }
  override async release(key: string, owner: string): Promise<void> {
    this.held.delete(key);
    return super.release(key, owner);
  }
}

/** A stored binary value with the library's marker byte (1: gzip'd text, 4: brotli'd text). */
function markered(marker: number, body: Buffer): Uint8Array {
  return new Uint8Array(Buffer.concat([Buffer.from([marker]), body]));
}

describe('regenerate() racing a concurrent write (the login/AJAX race)', () => {
  async function race(options: Parameters<typeof testManager>[0]) {
    const t = testManager(options);
    const login = await loginRace(t);
    return { t, login, oldKey: keyOf(t.cookie()!) };
  }

  it("last-write-wins: the cart stored meanwhile is carried to the new id, and the old item is gone", async () => {
    const { t, login, oldKey } = await race({});
    const { headers } = await login.commit();
    const cookie = /^sid=([^;]*)/.exec(headers.find(([n]) => n === 'Set-Cookie')![1])![1]!;
    const moved = (await t.store.get(keyOf(cookie)))!;
    expect(moved.data).toEqual({ visits: '1', cart: '["book"]', user: '"ada"' });
    expect(await t.store.get(oldKey)).toBeUndefined();
  });

  it("'reject': 409, the old session keeps the cart, and no new item is left behind", async () => {
    const { t, login, oldKey } = await race({ onConflict: 'reject' });
    await expect(login.commit()).rejects.toThrow(SessionConflictError);
    expect((await t.store.get(oldKey))!.data).toEqual({ visits: '1', cart: '["book"]' });
    expect((t.store as MemoryStore).size).toBe(1);
  });

  it('a merge function decides an attribute both requests changed; the rest is carried', async () => {
    const t = testManager({ onConflict: (_name, mine, theirs) => [...(theirs as string[]), ...(mine as string[])] });
    await t.run((s) => void (s['cart'] = ['pen']));
    const login = t.request();
    const s = await login.load();
    await t.run((ajax) => {
      ajax['cart'] = ['pen', 'book'];
      ajax['theme'] = 'dark';
    });
    s.regenerate();
    s['cart'] = ['pen', 'lamp'];
    const { headers } = await login.commit();
    const cookie = /^sid=([^;]*)/.exec(headers.find(([n]) => n === 'Set-Cookie')![1])![1]!;
    expect((await t.store.get(keyOf(cookie)))!.data).toEqual({ cart: '["pen","book","pen","lamp"]', theme: '"dark"' });
  });

  it('a logout that raced the login wins: 409 and nothing resurrected', async () => {
    const t = testManager({});
    await t.run((s) => void (s['visits'] = 1));
    const login = t.request();
    const s = await login.load();
    await t.run((other) => other.destroy());
    s.regenerate();
    await expect(login.commit()).rejects.toThrow(SessionConflictError);
    expect((t.store as MemoryStore).size).toBe(0);
  });

  it('a touch meanwhile (version moved, data did not) is no conflict, even under reject', async () => {
    const t = testManager({ onConflict: 'reject', touchAfter: 0 });
    await t.run((s) => void (s['visits'] = 1));
    const login = t.request();
    const s = await login.load();
    t.clock.now += 5_000;
    await t.run((other) => other.touch());
    s.regenerate();
    await expect(login.commit()).resolves.toBeDefined();
    expect((t.store as MemoryStore).size).toBe(1);
  });
});

describe("onStoreError 'continue-without-session': changes that need the store fail while it is down", () => {
  const cases: Array<[string, (s: Awaited<ReturnType<ReturnType<ReturnType<typeof testManager>['request']>['load']>>) => void]> = [
    ['destroy() (logout)', (s) => s.destroy()],
    ['regenerate()', (s) => s.regenerate()],
    ['setPrincipal()', (s) => s.setPrincipal('ada')],
    ['setMaxInactiveInterval()', (s) => s.setMaxInactiveInterval(60)],
    ['touch()', (s) => s.touch()],
  ];
  it.each(cases)('%s answers 503, and the session is unchanged after recovery', async (_name, change) => {
    const store = new OutageStore();
    const t = testManager({ onStoreError: 'continue-without-session', logger: quietLogger }, store);
    await t.run((s) => void (s['user'] = 'ada'));
    const before = await store.get(keyOf(t.cookie()!));
    store.down = true;
    await expect(t.run(change)).rejects.toThrow(SessionStoreUnavailableError);
    store.down = false;
    expect(await store.get(keyOf(t.cookie()!))).toEqual(before);
    await t.run((s) => expect(s['user']).toBe('ada'));
  });

  it('a read-only request still gets an empty session and 2xx', async () => {
    const store = new OutageStore();
    const t = testManager({ onStoreError: 'continue-without-session', logger: quietLogger }, store);
    await t.run((s) => void (s['user'] = 'ada'));
    store.down = true;
    await expect(t.run((s) => expect({ ...s }).toEqual({}))).resolves.toEqual({ headers: [] });
  });
});

describe('decompression bombs and maxSessionBytes', () => {
  it('refuses a 20 MB string that gzips to about 20 KB with 413, and keeps the stored session', async () => {
    const t = testManager();
    await t.run((s) => void (s['kept'] = 1));
    const before = await t.store.get(keyOf(t.cookie()!));
    const error = await t.run((s) => void (s['bomb'] = 'a'.repeat(20 * 1024 * 1024))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTooLargeError);
    expect((error as SessionTooLargeError).status).toBe(413);
    expect((error as Error).message).toMatch(/over maxSessionBytes \(1048576\)/);
    expect(await t.store.get(keyOf(t.cookie()!))).toEqual(before);
  });

  it('counts every attribute together against maxSessionBytes', async () => {
    const t = testManager({ maxSessionBytes: 10_000 });
    await expect(t.run((s) => void Object.assign(s, { a: 'x'.repeat(4_000), b: 'y'.repeat(4_000) }))).resolves.toBeDefined();
    await expect(t.run((s) => void (s['c'] = 'z'.repeat(4_000)))).rejects.toThrow(SessionTooLargeError);
  });

  it.each([
    ['gzip', 1, (b: Buffer) => gzipSync(b)],
    ['brotli', 4, (b: Buffer) => brotliCompressSync(b)],
  ] as const)('a stored %s bomb stops inflating at maxSessionBytes and fails typed, not with megabytes in memory', async (_name, marker, compress) => {
    const t = testManager({ maxSessionBytes: 64 * 1024 });
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await t.store.get(key))!;
    const bomb = markered(marker, compress(Buffer.from(JSON.stringify('a'.repeat(8 * 1024 * 1024)))));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    await t.store.destroy(key);
    await t.store.create(key, { ...stored, data: { a: '1', bomb } });
    const error = await t.request().load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionUnreadableError);
    expect((error as Error).message).toMatch(/attribute "bomb" would inflate past maxSessionBytes \(65536 bytes\)/);
  });

  it('compressed values share one inflation budget of twice maxSessionBytes', async () => {
    const t = testManager({ maxSessionBytes: 100_000 });
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await t.store.get(key))!;
    const each = markered(1, gzipSync(Buffer.from(JSON.stringify('b'.repeat(60_000)))));
    await t.store.destroy(key);
    await t.store.create(key, { ...stored, data: { one: each, two: each, three: each, four: each } });
    await expect(t.request().load()).rejects.toThrow(/attribute "four" would inflate the session past twice maxSessionBytes \(200000 bytes/);
  });

  it('two concurrent writers that together pass maxSessionBytes leave a session that still loads (and can log out)', async () => {
    const t = testManager({ maxSessionBytes: 100_000 });
    await t.run((s) => void (s['init'] = 1));
    const [one, two] = [t.request(), t.request()];
    (await one.load())['a'] = 'x'.repeat(60_000);
    (await two.load())['b'] = 'y'.repeat(60_000);
    await one.commit();
    await two.commit();
    await t.run((s) => {
      expect(Object.keys(s).sort()).toEqual(['a', 'b', 'init']);
      s.destroy();
    });
    expect((t.store as MemoryStore).size).toBe(0);
  });

  it('corrupt compressed bytes fail typed (422, about reading), never as a bare zlib error', async () => {
    const t = testManager();
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await t.store.get(key))!;
    await t.store.destroy(key);
    await t.store.create(key, { ...stored, data: { broken: new Uint8Array([1, 9, 9, 9]), unknown: new Uint8Array([77, 1]) } });
    await expect(t.request().load()).rejects.toThrow(SessionUnreadableError);
  });
});

describe('leases are released on every path (locking)', () => {
  it('a load whose item cannot be decoded releases the lease, so the next request gets the real error at once', async () => {
    const store = new LeaseCountingStore();
    const t = testManager({ locking: 'all', lockTimeout: 200 }, store);
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await store.get(key))!;
    await store.destroy(key);
    await store.create(key, { ...stored, data: { a: 'not json {' } });
    await expect(t.request().load()).rejects.toThrow(SessionUnreadableError);
    expect(store.held.size).toBe(0);
    expect((await store.get(key))!.lockOwner).toBeUndefined();
    // Not SessionLockTimeoutError: the lease did not outlive the failed load.
    await expect(t.request().load()).rejects.toThrow(SessionUnreadableError);
  });

  it.each([
    ['413 (too large)', (s: Record<string, unknown>) => void (s['big'] = 'x'.repeat(2 * 1024 * 1024))],
    ['400 (forbidden key)', (s: Record<string, unknown>) => void Object.defineProperty(s, 'constructor', { value: 1, enumerable: true, writable: true })],
    ['500 (not JSON)', (s: Record<string, unknown>) => void (s['fn'] = () => 1)],
  ])('a commit refused with %s releases the lease', async (_name, change) => {
    const store = new LeaseCountingStore();
    const t = testManager({ locking: 'all', lockTimeout: 200 }, store);
    await t.run((s) => void (s['a'] = 1));
    await expect(t.run((s) => change(s))).rejects.toThrow();
    expect(store.held.size).toBe(0);
    expect((await store.get(keyOf(t.cookie()!)))!.lockOwner).toBeUndefined();
    await t.run((s) => expect(s['a']).toBe(1));
  });
});

describe('forbidden keys planted in a stored item', () => {
  it('drops a stored "constructor" attribute and nested prototype keys on load', async () => {
    const t = testManager({ logger: quietLogger });
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await t.store.get(key))!;
    await t.store.destroy(key);
    await t.store.create(key, {
      ...stored,
      data: { constructor: '{"polluted":true}', prototype: '1', a: '{"constructor":{"prototype":{"polluted":true}},"ok":1}' },
    });
    const s = await t.request().load();
    expect(Object.keys(s)).toEqual(['a']);
    expect(s['a']).toEqual({ ok: 1 });
    expect(typeof s.constructor).toBe('function'); // the prototype's, not the stored one
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('size pre-check counts the real metadata', () => {
  it('refuses a principal over 1,024 bytes when it is set', async () => {
    const t = testManager();
    await expect(t.run((s) => s.setPrincipal('u'.repeat(1025)))).rejects.toThrow(/at most 1024 bytes/);
    await expect(t.run((s) => s.setPrincipal('é'.repeat(513)))).rejects.toThrow(RangeError);
    await expect(t.run((s) => s.setPrincipal('u'.repeat(1024)))).resolves.toBeDefined();
  });

  it("counts the store's key bytes and the principal, so a long key prefix is refused before the write", async () => {
    class PrefixedStore extends MemoryStore {
      override keyBytes(key: string): number {
        return super.keyBytes(key) + 20_000;
      }
    }
    const t = testManager({ compressThreshold: 10_000_000 }, new PrefixedStore());
    await expect(t.run((s) => void (s['v'] = 'x'.repeat(395 * 1024)))).rejects.toThrow(SessionTooLargeError);
    const plain = testManager({ compressThreshold: 10_000_000 });
    await expect(plain.run((s) => void (s['v'] = 'x'.repeat(395 * 1024)))).resolves.toBeDefined();
  });
});

describe('per-session idle timeout below touchAfter', () => {
  it('keeps a user who reads every half second logged in with setMaxInactiveInterval(3) and touchAfter 30', async () => {
    const t = testManager({ touchAfter: 30 });
    await t.run((s) => {
      s['user'] = 'ada';
      s.setMaxInactiveInterval(3);
    });
    for (let i = 0; i < 40; i++) {
      t.clock.now += 500;
      await t.run((s) => expect(s['user']).toBe('ada'));
    }
  });

  it('still logs the user out after 3 idle seconds', async () => {
    const t = testManager({ touchAfter: 30 });
    await t.run((s) => {
      s['user'] = 'ada';
      s.setMaxInactiveInterval(3);
    });
    t.clock.now += 3_001;
    await t.run((s) => expect(s.isNew).toBe(true));
  });

  it('under rotation, refuses an interval longer than the rotation period, naming it', async () => {
    class RotatedStore extends MemoryStore {
      override get requiredMaxInactiveInterval(): number {
        return 1800;
      }
    }
    const t = testManager({ maxInactiveInterval: 1800 }, new RotatedStore());
    await expect(t.run((s) => s.setMaxInactiveInterval(86_400))).rejects.toThrow(/longer than the table rotation period \(1800 s\)/);
    await expect(t.run((s) => s.setMaxInactiveInterval(600))).resolves.toBeDefined();
  });
});

describe('found by the independent review', () => {
  it('a session holding only a principal and its own idle timeout is stored, with a cookie', async () => {
    const t = testManager();
    await t.run((s) => {
      s.setPrincipal('user-1');
      s.setMaxInactiveInterval(3600);
    });
    expect(t.cookie()).toBeDefined();
    expect(await t.store.findByPrincipal('user-1', t.clock.now)).toHaveLength(1);
    // regenerate() of such a session (a privilege change) moves it rather than deleting it.
    await t.run((s) => s.regenerate());
    expect(await t.store.findByPrincipal('user-1', t.clock.now)).toHaveLength(1);
    await t.run((s) => expect(s.principal).toBe('user-1'));
  });

  it('a load after the commit (a task the handler left running) takes no lease', async () => {
    const store = new LeaseCountingStore();
    const t = testManager({ locking: 'all', lockTimeout: 200 }, store);
    await t.run((s) => void (s['a'] = 1));
    const late = t.request();
    await late.commit();
    await late.load();
    expect(store.held.size).toBe(0);
    await expect(t.request().load()).resolves.toMatchObject({ a: 1 });
  });

  it.each([
    ['empty', ''],
    ['over 1,024 bytes', 'n'.repeat(1025)],
  ])('an attribute name that is %s is a 400, not a 500 from DynamoDB', async (_name, name) => {
    const t = testManager();
    await expect(t.run((s) => void (s[name] = 1))).rejects.toMatchObject({ status: 400, name: 'SessionKeyError' });
  });

  it('an acquire that landed but whose answer was lost does not leave its lease behind', async () => {
    class LostAnswerStore extends LeaseCountingStore {
      loseNext = false;
      override async acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
        const outcome = await super.acquire(key, owner, leaseUntil, now);
        if (this.loseNext) {
          this.loseNext = false;
          throw new SessionStoreUnavailableError('connection reset after the lease was written');
        }
        return outcome;
      }
    }
    const store = new LostAnswerStore();
    const t = testManager({ locking: 'all', lockTimeout: 200 }, store);
    await t.run((s) => void (s['a'] = 1));
    store.loseNext = true;
    await expect(t.request().load()).rejects.toThrow(SessionStoreUnavailableError);
    expect((await store.get(keyOf(t.cookie()!)))!.lockOwner).toBeUndefined();
    await t.run((s) => expect(s['a']).toBe(1));
  });

  it('regenerate() of a session that expired while the request ran is a 409, not a new session with its data', async () => {
    const t = testManager({ maxInactiveInterval: 60, touchAfter: 0 });
    await t.run((s) => void (s['a'] = 0));
    const slow = t.request();
    const s = await slow.load();
    t.clock.now += 61_000;
    s.regenerate();
    await expect(slow.commit()).rejects.toThrow(/expired while this request ran/);
    expect((t.store as MemoryStore).size).toBe(0);
  });

  it('regenerate() of a session another request touched meanwhile still moves it, even past the deadline seen at load', async () => {
    const t = testManager({ maxInactiveInterval: 60, touchAfter: 0 });
    await t.run((s) => void (s['a'] = 0));
    const slow = t.request();
    const s = await slow.load();
    t.clock.now += 50_000;
    await t.run((other) => other.touch());
    t.clock.now += 20_000; // past the deadline slow loaded, within the touched one
    s.regenerate();
    await expect(slow.commit()).resolves.toBeDefined();
    expect((t.store as MemoryStore).size).toBe(1);
  });

  it('a stored item past its absolute deadline is not served, even when its idle deadline is later (an item another writer stored)', async () => {
    const t = testManager({ absoluteTimeout: 600 });
    await t.run((s) => void (s['a'] = 1));
    const key = keyOf(t.cookie()!);
    const stored = (await t.store.get(key))!;
    await t.store.destroy(key);
    const nowSeconds = Math.floor(t.clock.now / 1000);
    await t.store.create(key, { ...stored, expiresAt: nowSeconds + 3600, absoluteExpiresAt: nowSeconds - 1 });
    await t.run((s) => expect(s.isNew).toBe(true));
  });

  it("a custom serializer's own decode failure reaches the app typed (422, about reading), not as a bare error", async () => {
    const serializer = {
      encode: (value: unknown) => JSON.stringify(value),
      decode: (): unknown => {
        throw new TypeError('unexpected token');
      },
    };
    const t = testManager({}, new MemoryStore({ serializer }));
    await t.run((s) => void (s['a'] = 1));
    const error = await t.request().load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionUnreadableError);
    expect((error as SessionUnreadableError).status).toBe(422);
    expect((error as Error).message).toMatch(/could not be read: attribute "a" could not be decoded by the serializer \(TypeError\)/);
  });
});
