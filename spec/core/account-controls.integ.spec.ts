import { expect } from '@jest/globals';
import { MemoryStore, SessionNotFoundError, SessionStore, SessionStoreUnavailableError } from '../../lib';
import type { Logger, SessionEventMap } from '../../lib';
import { dropTable, getItem, READ_CALL, storeOnNewTable } from '../support/dynamodb';
import { FaultyStore } from '../support/faulty-store';
import { LaggingIndexStore } from '../support/lagging-index-store';
import { keyOf } from '../support/cookies';
import { testManager } from '../support/manager';

/**
 * Account controls (docs/accounts.md) on DynamoDB Local in the layout the project runs
 * (spec/support/layout.ts), and on MemoryStore where the store makes no difference to the rule.
 */
describe('account controls on DynamoDB', () => {
  const tables: string[] = [];
  afterAll(async () => {
    for (const table of tables) await dropTable(table);
  });
  async function dynamo() {
    const made = await storeOnNewTable();
    tables.push(made.tableName);
    return made;
  }

  /** One browser of `user`: its own cookie jar, on the shared manager's store and clock. */
  function browsers(options: Parameters<typeof testManager>[0], store: SessionStore) {
    const first = testManager(options, store);
    const open = (userAgent = 'Mozilla/5.0 (test)') => {
      const t = testManager({ ...options, now: () => first.clock.now }, store);
      const headers = { 'user-agent': userAgent };
      return {
        t,
        key: () => keyOf(t.cookie()!),
        run: (handler: Parameters<typeof t.run>[0], extra: Parameters<typeof t.run>[1] = {}) => t.run(handler, { ip: '203.0.113.7', ...extra, headers: { ...headers, ...extra.headers } }),
      };
    };
    return { clock: first.clock, manager: first.manager, open };
  }

  it('login(): a new id, the old item gone, principal and authenticatedAt stored even with no attribute, authAge 0', async () => {
    const { tableName, store } = await dynamo();
    const t = testManager({}, store);
    await t.run((s) => void (s['cart'] = ['tea']));
    const before = t.cookie()!;
    let authAge: number | undefined;
    await t.run((s) => {
      s.login('ada');
      authAge = s.authAge();
    });
    expect(authAge).toBe(0);
    expect(t.cookie()).not.toBe(before);
    expect(await getItem(tableName, keyOf(before))).toBeUndefined();
    const item = await getItem(tableName, keyOf(t.cookie()!));
    expect(item).toMatchObject({ principal: 'ada', authenticatedAt: t.clock.now, data: { cart: '["tea"]' } });

    // Nothing but the login: still stored, as a logged-in session with no attributes.
    const bare = testManager({}, store);
    await bare.run((s) => s.login('grace'));
    expect(bare.cookie()).toBeDefined();
    expect(await getItem(tableName, keyOf(bare.cookie()!))).toMatchObject({ principal: 'grace', authenticatedAt: bare.clock.now, data: {} });
    t.clock.now += 1500;
    await t.run((s) => {
      expect(s.authenticatedAt).toBe(t.clock.now - 1500);
      expect(s.authAge()).toBe(1);
    });
  });

  it('authenticatedAt: carried by regenerate(), gone with destroy() and with a change of principal; never for setPrincipal alone', async () => {
    const { tableName, store } = await dynamo();
    const t = testManager({}, store);
    await t.run((s) => s.login('ada'));
    const at = t.clock.now;
    t.clock.now += 5000;
    await t.run((s) => s.regenerate());
    expect(await getItem(tableName, keyOf(t.cookie()!))).toMatchObject({ principal: 'ada', authenticatedAt: at });
    await t.run((s) => expect(s.authAge()).toBe(5));

    await t.run((s) => s.setPrincipal('ada')); // the same user: the login stands
    expect((await getItem(tableName, keyOf(t.cookie()!)))?.['authenticatedAt']).toBe(at);
    await t.run((s) => s.setPrincipal('grace')); // another user has not logged in
    const switched = await getItem(tableName, keyOf(t.cookie()!));
    expect(switched).toMatchObject({ principal: 'grace' });
    expect(switched).not.toHaveProperty('authenticatedAt');
    await t.run((s) => expect([s.authenticatedAt, s.authAge()]).toEqual([undefined, undefined]));

    await t.run((s) => s.login('ada'));
    await t.run((s) => {
      s.destroy();
      expect([s.principal, s.authenticatedAt, s.authAge()]).toEqual([undefined, undefined, undefined]);
      s['after'] = 1; // a new session: not logged in
    });
    const fresh = await getItem(tableName, keyOf(t.cookie()!));
    expect(fresh).not.toHaveProperty('authenticatedAt');
    expect(fresh).not.toHaveProperty('principal');
  });

  it('maxSessionsPerPrincipal 2: a third login leaves the two most recently used sessions, and says which it evicted', async () => {
    const { store } = await dynamo();
    const b = browsers({ maxSessionsPerPrincipal: 2 }, store);
    const evicted: Array<SessionEventMap['evicted']> = [];
    const logins: string[] = [];
    const one = b.open();
    const two = b.open();
    const three = b.open();
    const other = b.open();
    for (const browser of [one, two, three, other]) {
      browser.t.manager.on('evicted', (e) => evicted.push(e)).on('login', (e) => logins.push(e.key));
    }
    await one.run((s) => s.login('ada'));
    b.clock.now += 1000;
    await two.run((s) => s.login('ada'));
    b.clock.now += 1000;
    await other.run((s) => s.login('grace')); // another user's sessions never count
    b.clock.now += 1000;
    await one.run((s) => s.touch()); // used after `two` was made: `two` is now the least recently used
    b.clock.now += 1000;
    await three.run((s) => s.login('ada'));

    expect(logins).toEqual([one.key(), two.key(), other.key(), three.key()].map(String));
    expect(evicted).toEqual([{ key: two.key(), by: three.key() }]);
    expect((await store.findByPrincipal('ada', b.clock.now)).map((s) => s.key).sort()).toEqual([one.key(), three.key()].sort());
    expect(await store.get(two.key())).toBeUndefined();
    expect((await store.findByPrincipal('grace', b.clock.now)).map((s) => s.key)).toEqual([other.key()]);
  });

  it('otherSessions(): the same user\'s other live sessions, most recent first, with the client only under recordClientInfo', async () => {
    const { store, log } = await dynamo();
    const longAgent = `Agent/${'é'.repeat(300)}`;
    const b = browsers({ recordClientInfo: true }, store);
    const laptop = b.open('Laptop/1.0');
    const phone = b.open(longAgent);
    const stranger = b.open('Stranger/1.0');
    await laptop.run((s) => s.login('ada'));
    b.clock.now += 1000;
    await phone.run((s) => s.login('ada'), { ip: '198.51.100.9' });
    await stranger.run((s) => s.login('mallory'));
    b.clock.now += 1000;

    log.clear();
    let listed: Awaited<ReturnType<import('../../lib').Session['otherSessions']>> = [];
    await laptop.run(async (s) => void (listed = await s.otherSessions()));
    expect(log.calls).toEqual([READ_CALL, 'Query']); // the load, then one index Query: nothing per session
    expect(listed).toEqual([{
      handle: phone.key(),
      createdAt: b.clock.now - 1000,
      lastAccessedAt: b.clock.now - 1000,
      expiresAt: (Math.floor((b.clock.now - 1000) / 1000) + 1800) * 1000,
      userAgent: Array.from(longAgent).slice(0, 256).join(''),
      ip: '198.51.100.9',
    }]);
    expect(JSON.stringify(listed)).not.toContain(phone.t.cookie()!.split('.')[0]); // the handle is never the id

    // Without recordClientInfo nothing about the client is stored.
    const plain = browsers({}, store);
    const quiet = plain.open('Quiet/1.0');
    await quiet.run((s) => s.login('ada'));
    await phone.run(async (s) => {
      const others = await s.otherSessions();
      expect(others.map((o) => o.handle).sort()).toEqual([laptop.key(), quiet.key()].sort());
      expect(others.find((o) => o.handle === quiet.key())).not.toHaveProperty('userAgent');
      expect(others.find((o) => o.handle === quiet.key())).not.toHaveProperty('ip');
    });

    // Expired sessions are never listed, and a session without a user has no others.
    b.clock.now += 1801 * 1000;
    await phone.run(async (s) => {
      expect(s.isNew).toBe(true);
      expect(await s.otherSessions()).toEqual([]);
    });
  });

  it("destroyOther(): another user's handle or an unknown one is a 404 that deletes nothing; the user's own goes; one's own handle is destroy()", async () => {
    const { store } = await dynamo();
    const b = browsers({}, store);
    const mine = b.open();
    const myOther = b.open();
    const theirs = b.open();
    await mine.run((s) => s.login('ada'));
    await myOther.run((s) => s.login('ada'));
    await theirs.run((s) => s.login('mallory'));

    for (const handle of [theirs.key(), 'x'.repeat(43), 'not a handle', '']) {
      await expect(mine.run((s) => {
        s.destroyOther(myOther.key()); // also asked: still nothing is deleted
        s.destroyOther(handle);
        s['changed'] = true;
      })).rejects.toBeInstanceOf(SessionNotFoundError);
    }
    expect(await store.get(theirs.key())).toMatchObject({ principal: 'mallory' });
    expect(await store.get(myOther.key())).toMatchObject({ principal: 'ada' });
    expect((await store.get(mine.key()))?.data).not.toHaveProperty('changed');

    // Without a user, no handle is anyone's.
    const anonymous = b.open();
    await anonymous.run((s) => void (s['cart'] = 1));
    await expect(anonymous.run((s) => s.destroyOther(myOther.key()))).rejects.toThrow(/no live session of this user has that handle; nothing was deleted\.$/);

    await mine.run((s) => s.destroyOther(myOther.key()));
    expect(await store.get(myOther.key())).toBeUndefined();
    const myKey = mine.key();
    const result = await mine.run((s) => s.destroyOther(myKey));
    expect(await store.get(myKey)).toBeUndefined();
    expect(result.headers.some(([name, value]) => name === 'Set-Cookie' && /^sid=;/.test(value))).toBe(true);
  });

  it('destroyOthers(): only the current session of the user is left; other users keep theirs', async () => {
    const { store } = await dynamo();
    const b = browsers({}, store);
    const devices = [b.open(), b.open(), b.open(), b.open(), b.open(), b.open()];
    for (const d of devices) await d.run((s) => s.login('ada'));
    const grace = b.open();
    await grace.run((s) => s.login('grace'));
    await devices[0]!.run((s) => s.destroyOthers());
    expect((await store.findByPrincipal('ada', b.clock.now)).map((s) => s.key)).toEqual([devices[0]!.key()]);
    expect(await store.get(grace.key())).toMatchObject({ principal: 'grace' });
    // login() and destroyOthers() in one request: "log in here, sign out everywhere else".
    await devices[1]!.run((s) => {
      s.login('ada');
      s.destroyOthers();
    });
    expect((await store.findByPrincipal('ada', b.clock.now)).map((s) => s.key)).toEqual([devices[1]!.key()]);
  });

  it('a request that does not touch the session makes no call, a read one, with every account option on', async () => {
    const { store, log } = await dynamo();
    const t = testManager({ recordClientInfo: true, maxSessionsPerPrincipal: 3 }, store);
    await t.run((s) => s.login('ada'));
    log.clear();
    await t.run(() => undefined);
    const untouched = t.request();
    await untouched.commit();
    expect(log.calls).toEqual([READ_CALL]);
    log.clear();
    await t.run((s) => void s.authAge());
    expect(log.calls).toEqual([READ_CALL]);
  });
});

describe('account controls on a shared table (keyPrefix)', () => {
  it("one app never lists, signs out or evicts another app's sessions of the same user id", async () => {
    const { store: shop, tableName } = await storeOnNewTable({ keyPrefix: 'shop:' });
    try {
      const { store: blog } = await storeOnNewTable({ tableName }); // no prefix: '' starts every key
      const { store: shopping } = await storeOnNewTable({ tableName, keyPrefix: 'shop' }); // a prefix of the other's
      const inShop = testManager({ recordClientInfo: true }, shop);
      await inShop.run((s) => s.login('42'), { headers: { 'user-agent': 'ShopBrowser' } });
      const inShopping = testManager({}, shopping);
      await inShopping.run((s) => s.login('42'));
      const inBlog = testManager({ maxSessionsPerPrincipal: 1 }, blog);
      inBlog.clock.now += 1000; // after the others' logins: the limit would end them if it saw them
      await inBlog.run((s) => s.login('42')); // limit 1: it would evict every other session it saw
      await inBlog.run(async (s) => {
        expect(await s.otherSessions()).toEqual([]);
        s.destroyOthers();
      });
      expect(await shop.get(keyOf(inShop.cookie()!))).toMatchObject({ principal: '42' });
      expect(await shopping.get(keyOf(inShopping.cookie()!))).toMatchObject({ principal: '42' });
      expect(await blog.destroyByPrincipal('42')).toBe(1);
      expect((await shop.findByPrincipal('42')).map((s) => s.key)).toEqual([keyOf(inShop.cookie()!)]);
    } finally {
      await dropTable(tableName);
    }
  });
});

describe('account controls where the principal index lags (as a GSI may)', () => {
  /** Two devices of ada under a limit of 2, each logged in a second apart; `then` runs on the phone a second later. */
  async function laptopAndPhone(then: (phone: ReturnType<typeof testManager>) => Promise<void>) {
    const store = new LaggingIndexStore();
    const laptop = testManager({ maxSessionsPerPrincipal: 2 }, store);
    const phone = testManager({ maxSessionsPerPrincipal: 2, now: () => laptop.clock.now }, store);
    await laptop.run((s) => s.login('ada'));
    laptop.clock.now += 1000;
    await phone.run((s) => s.login('ada'));
    laptop.clock.now += 1000;
    await then(phone);
    // The user has 2 sessions, the limit: neither went.
    expect((await store.live('ada', laptop.clock.now)).map((s) => s.key).sort()).toEqual([keyOf(laptop.cookie()!), keyOf(phone.cookie()!)].sort());
  }

  it('a second login of the same session (step-up) never counts the session it replaced', () =>
    laptopAndPhone(async (phone) => {
      await phone.run((s) => s.login('ada')); // the index still lists phone's previous session, deleted a moment ago
    }));

  it('a session deleted a moment ago, still in the index, never takes the place of a live one', () =>
    laptopAndPhone(async (phone) => {
      await phone.run((s) => s.destroy()); // logged out: the index still lists it, as the most recently used
      await phone.run((s) => s.login('ada'));
    }));

  it('two logins at the same moment that each see the other never end each other: one may stay over the limit', async () => {
    const store = new LaggingIndexStore();
    store.barrier = 2;
    const a = testManager({ maxSessionsPerPrincipal: 1 }, store);
    const b = testManager({ maxSessionsPerPrincipal: 1, now: () => a.clock.now }, store);
    const [ra, rb] = [a.request(), b.request()];
    (await ra.load()).login('ada');
    (await rb.load()).login('ada');
    await Promise.all([ra.commit(), rb.commit()]);
    expect(await store.live('ada', a.clock.now)).toHaveLength(2);
    store.barrier = 0;
    a.clock.now += 1000;
    await b.run((s) => s.login('ada'), { headers: {} }); // the next login counts them all
    expect(await store.live('ada', a.clock.now)).toHaveLength(1);
  });
});

describe('account controls when the store fails', () => {
  it('a login whose eviction meets a store failure is still stored and answered, and says so in the log', async () => {
    const store = new FaultyStore(new MemoryStore());
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const t = testManager({ maxSessionsPerPrincipal: 1, logger }, store);
    await t.run((s) => void (s['cart'] = ['tea']));
    store.inject([undefined, undefined, undefined, undefined, 'timeout']); // get, create, the move's record, destroy of the old item, then the index query
    const result = await t.run((s) => s.login('ada'));
    expect(result.headers.some(([name]) => name === 'Set-Cookie')).toBe(true);
    expect(await store.get(keyOf(t.cookie()!))).toMatchObject({ principal: 'ada', data: { cart: '["tea"]' } });
    expect(warnings).toEqual([expect.stringMatching(/^maxSessionsPerPrincipal: could not end the sessions over the limit after a login \(the next login tries again\)/)]);
  });

  it("under continue-without-session, step-up and the device list answer the store's 503, not 401 or an empty list", async () => {
    const store = new FaultyStore(new MemoryStore());
    const t = testManager({ onStoreError: 'continue-without-session', logger: { debug() {}, info() {}, warn() {}, error() {} } }, store);
    await t.run((s) => s.login('ada'));
    store.inject(['timeout']);
    const ctx = t.request();
    await expect(ctx.requireFreshAuth(300)).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    await expect((await ctx.load()).otherSessions()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
  });
});

describe('account controls: odd input and double asks', () => {
  it('destroyOther() of a non-string is a 404 at commit, never a 500', async () => {
    const t = testManager();
    await t.run((s) => s.login('ada'));
    await expect(t.run((s) => s.destroyOther(123 as unknown as string))).rejects.toBeInstanceOf(SessionNotFoundError);
    await expect(t.run((s) => s.destroyOther({ toString: () => { throw new Error('no'); } } as unknown as string))).rejects.toBeInstanceOf(SessionNotFoundError);
  });

  it('destroyOthers() then destroy(): every session of the user goes, each once', async () => {
    const store = new MemoryStore();
    const t = testManager({}, store);
    const u = testManager({ now: () => t.clock.now }, store);
    const destroyed: string[] = [];
    t.manager.on('destroyed', (e) => destroyed.push(e.key));
    await u.run((s) => s.login('ada'));
    await t.run((s) => s.login('ada'));
    const keys = [keyOf(t.cookie()!), keyOf(u.cookie()!)];
    destroyed.length = 0;
    await t.run((s) => {
      s.destroyOthers();
      s.destroy();
    });
    expect(destroyed.sort()).toEqual(keys.sort());
    expect(store.size).toBe(0);
  });

  it('with recordClientInfo off, nothing about the client is stored, not even what was recorded while it was on', async () => {
    const store = new MemoryStore();
    const on = testManager({ recordClientInfo: true }, store);
    await on.run((s) => s.login('ada'), { headers: { 'user-agent': 'A' }, ip: '192.0.2.1' });
    expect(await store.get(keyOf(on.cookie()!))).toMatchObject({ userAgent: 'A', ip: '192.0.2.1' });
    const off = testManager({ now: () => on.clock.now }, store);
    off.setCookie(on.cookie());
    await off.run((s) => s.regenerate(), { headers: { 'user-agent': 'B' }, ip: '192.0.2.2' });
    const moved = await store.get(keyOf(off.cookie()!));
    expect(moved).not.toHaveProperty('userAgent');
    expect(moved).not.toHaveProperty('ip');
  });
});

describe('account controls on MemoryStore', () => {
  it('login, eviction, listing and sign-out behave as on DynamoDB', async () => {
    const store = new MemoryStore();
    const t = testManager({ maxSessionsPerPrincipal: 1, recordClientInfo: true }, store);
    const u = testManager({ maxSessionsPerPrincipal: 1, recordClientInfo: true, now: () => t.clock.now }, store);
    await t.run((s) => s.login('ada'), { headers: { 'user-agent': 'A' } });
    const first = keyOf(t.cookie()!);
    t.clock.now += 1000;
    await u.run((s) => s.login('ada'), { headers: { 'user-agent': 'B' } });
    expect(await store.get(first)).toBeUndefined(); // limit 1: the other goes
    await t.run((s) => expect(s.isNew).toBe(true));
    t.clock.now += 1000;
    await t.run((s) => s.login('ada'), { headers: { 'user-agent': 'A2' }, ip: '192.0.2.1' });
    await u.run(async (s) => {
      expect(s.isNew).toBe(true); // evicted by t's second login
      expect(await s.otherSessions()).toEqual([]);
    });
  });
});
