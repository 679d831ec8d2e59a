import type { Server } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import { DynamoDbStore, MemoryStore, SessionStoreUnavailableError } from '../../lib';
import type { SessionStore } from '../../lib';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { session } from '../../lib/koa';
import { MAX_MOVES_FOLLOWED } from '../../lib/core/session-move';
import { isStorageKey } from '../../lib/core/ids';
import { keyOf, sessionCookieValue, setCookies } from '../support/cookies';
import { CallLog, dropTable, endpoint, LAYOUT, randomTableName, READ_CALL, scanItems, storageKey, storeOnNewTable } from '../support/dynamodb';
import { FaultyStore } from '../support/faulty-store';
import { testManager } from '../support/manager';
import { quietLogger } from '../support/quiet-logger';
import { SECRET } from '../support/secrets';

/**
 * "A logout is final" (docs/guarantees.md): a destroy() whose session a concurrent regenerate() or login()
 * moved to a new id either follows the move and ends it, or answers 409 without clearing the cookie; it is
 * never answered 2xx while the moved session stays valid. Two tabs of one browser, interleaved with a gate:
 * the logout loads, the moves run to the end, then the logout commits.
 */

/** Holds a request after its load until the test opens it. */
class Gate {
  private arrive!: () => void;
  private release!: () => void;
  readonly arrived = new Promise<void>((resolve) => (this.arrive = resolve));
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  async pass(): Promise<void> {
    this.arrive();
    await this.opened;
  }
  open(): void {
    this.release();
  }
}

type Held = 'logout' | 'move';

/** A Koa app whose logout and move routes wait, after their load, at the gate the test set for them. */
function app(store: SessionStore): { server: Server; holdNext: (route: Held) => Gate; destroyed: string[] } {
  const destroyed: string[] = [];
  const gates: Record<Held, Gate[]> = { logout: [], move: [] };
  const pass = async (route: Held): Promise<void> => {
    await gates[route].shift()?.pass();
  };
  const koa = new Koa();
  koa.silent = true;
  const router = new Router();
  const middleware = session({ store, secrets: [SECRET], logger: quietLogger });
  middleware.manager.on('destroyed', ({ key }) => destroyed.push(key));
  koa.use(middleware);
  router.post('/set/:name/:value', async (ctx) => {
    (await ctx.session)[ctx.params['name']!] = ctx.params['value'];
    ctx.body = 'ok';
  });
  router.get('/read', async (ctx) => {
    const s = await ctx.session;
    ctx.body = { isNew: s.isNew, data: { ...s } };
  });
  router.post('/regenerate', async (ctx) => {
    const s = await ctx.session;
    await pass('move');
    s.regenerate(); // a role switch
    s['role'] = 'admin';
    ctx.body = 'ok';
  });
  router.post('/login/:user', async (ctx) => {
    const s = await ctx.session;
    await pass('move');
    s.login(ctx.params['user']!);
    ctx.body = 'ok';
  });
  router.post('/logout', async (ctx) => {
    const s = await ctx.session;
    await pass('logout');
    s.destroy();
    ctx.body = 'bye';
  });
  // The logout route docs/guarantees.md recommends: no load, the id the request names is ended.
  router.post('/logout-unread', async (ctx) => {
    await pass('logout');
    ctx.sessionContext.destroy();
    ctx.body = 'bye';
  });
  koa.use(router.routes());
  return {
    server: koa.listen(0),
    destroyed,
    holdNext: (route) => {
      const gate = new Gate();
      gates[route].push(gate);
      return gate;
    },
  };
}

type Move = { name: string; path: string };
const REGENERATE: Move = { name: 'regenerate()', path: '/regenerate' };
const LOGIN: Move = { name: 'login()', path: '/login/ada' };

/** The `sid` a response set: a new value, '' when it cleared the cookie, undefined when it set none. */
function sid(res: request.Response): string | undefined {
  return sessionCookieValue(res.headers);
}

const stores: Array<{ name: string; make: () => Promise<{ store: SessionStore; log?: CallLog; done?: () => Promise<void> }> }> = [
  {
    name: 'DynamoDB',
    make: async () => {
      const { store, log, tableName, raw } = await storeOnNewTable();
      return { store, log, done: async () => { raw.destroy(); await dropTable(tableName); } };
    },
  },
  { name: 'MemoryStore', make: () => Promise.resolve({ store: new MemoryStore() }) },
];

describe.each(stores)('a logout is final ($name)', ({ make }) => {
  let server: Server;
  let holdNext: (route: Held) => Gate;
  let destroyed: string[];
  let log: CallLog | undefined;
  let done: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const made = await make();
    ({ server, holdNext, destroyed } = app(made.store));
    log = made.log;
    done = made.done;
  });
  afterAll(async () => {
    server.close();
    await done?.();
  });

  const post = (path: string, cookie: string | undefined) => request(server).post(path).set(cookie === undefined ? {} : { Cookie: `sid=${cookie}` });
  const read = (cookie: string) => request(server).get('/read').set('Cookie', `sid=${cookie}`);

  /** A signed-in-looking session: its cookie value. */
  async function start(): Promise<string> {
    const res = await post('/set/user/ada', undefined).expect(200);
    return sid(res)!;
  }

  /** A request that loads `cookie` and waits; returns its pending response and the gate that lets it commit. */
  async function loaded(route: Held, path: string, cookie: string): Promise<{ gate: Gate; response: Promise<request.Response> }> {
    const gate = holdNext(route);
    const response = post(path, cookie).then((res) => res);
    await gate.arrived;
    return { gate, response };
  }
  const loadedLogout = (cookie: string) => loaded('logout', '/logout', cookie);

  /** The rule, for a logout of a session last moved to `movedTo`. */
  async function expectFinal(logout: request.Response, movedTo: string): Promise<void> {
    if (logout.status === 409) {
      expect(setCookies(logout.headers).filter((c) => c.startsWith('sid='))).toEqual([]);
      return;
    }
    expect(logout.status).toBe(200);
    expect(sid(logout)).toBe(''); // the logout cleared the cookie...
    // ...and a browser that kept the moved session's cookie (its response arrived last) is signed out too.
    expect((await read(movedTo)).body).toEqual({ isNew: true, data: {} });
  }

  describe.each([REGENERATE, LOGIN])('tab B calls $name and commits first, then tab A logs out', (move) => {
    it('A answers 2xx and the session under the new id is gone, or 409 without clearing the cookie', async () => {
      const cookie = await start();
      const logout = await loadedLogout(cookie);
      const moved = await post(move.path, cookie).expect(200);
      const movedTo = sid(moved)!;
      expect(movedTo).toBeTruthy();
      expect(movedTo).not.toBe(cookie);
      destroyed.length = 0;
      logout.gate.open();
      const res = await logout.response;
      await expectFinal(res, movedTo);
      if (res.status === 200) expect(destroyed).toEqual(expect.arrayContaining([keyOf(cookie), keyOf(movedTo)]));
    });

    it('a chain of two moves (B moves it, then a request on B\'s new cookie moves it again) is followed too', async () => {
      const cookie = await start();
      const logout = await loadedLogout(cookie);
      const first = sid(await post(move.path, cookie).expect(200))!;
      const second = sid(await post(REGENERATE.path, first).expect(200))!;
      expect(second).not.toBe(first);
      logout.gate.open();
      const res = await logout.response;
      await expectFinal(res, second);
      if (res.status === 200) expect((await read(first)).body).toEqual({ isNew: true, data: {} });
    });

    it('a logout route that never loads (destroy() before any load) follows the move too', async () => {
      const cookie = await start();
      const logout = await loaded('logout', '/logout-unread', cookie);
      const movedTo = sid(await post(move.path, cookie).expect(200))!;
      logout.gate.open();
      await expectFinal(await logout.response, movedTo);
    });

    it('a logout that loads only after the move committed (the old cookie finds nothing) still ends the moved session', async () => {
      const cookie = await start();
      const movedTo = sid(await post(move.path, cookie).expect(200))!;
      const res = await post('/logout', cookie); // tab A never saw B's response: it still sends the old cookie
      await expectFinal(res, movedTo);
    });

    it('the other order: A logs out first, then B\'s move answers 409 without a cookie, and nothing of the session is left', async () => {
      const cookie = await start();
      const moving = await loaded('move', move.path, cookie);
      const logout = await post('/logout', cookie).expect(200);
      expect(sid(logout)).toBe('');
      moving.gate.open();
      const moved = await moving.response;
      expect(moved.status).toBe(409);
      expect(sid(moved)).toBeUndefined();
      expect((await read(cookie)).body).toEqual({ isNew: true, data: {} });
    });
  });

  it('two moves of the same session, the second refused: a logout still follows the one that happened', async () => {
    const cookie = await start();
    const logout = await loadedLogout(cookie);
    // B and C both load the session; B moves it; C's move then finds it gone and answers 409.
    const b = await loaded('move', REGENERATE.path, cookie);
    const c = await loaded('move', LOGIN.path, cookie);
    b.gate.open();
    const movedTo = sid(await b.response)!;
    expect(movedTo).toBeTruthy();
    c.gate.open();
    expect((await c.response).status).toBe(409);
    logout.gate.open();
    await expectFinal(await logout.response, movedTo);
  });

  it('two logouts racing: both answer 2xx and clear the cookie', async () => {
    const cookie = await start();
    const logout = await loadedLogout(cookie);
    const first = await post('/logout', cookie).expect(200);
    expect(sid(first)).toBe('');
    log?.clear();
    logout.gate.open();
    const second = await logout.response;
    expect(second.status).toBe(200);
    expect(sid(second)).toBe('');
  });
  it(`a chain longer than a logout follows (${MAX_MOVES_FOLLOWED} moves) answers 409 and leaves the cookie alone`, async () => {
    const cookie = await start();
    const logout = await loadedLogout(cookie);
    let last = cookie;
    for (let i = 0; i <= MAX_MOVES_FOLLOWED; i++) last = sid(await post(REGENERATE.path, last).expect(200))!;
    logout.gate.open();
    const res = await logout.response;
    expect(res.status).toBe(409);
    expect(sid(res)).toBeUndefined();
    expect((await read(last)).body).toMatchObject({ isNew: false }); // not ended: the 409 says so, and a retry ends it
    expect((await post('/logout', last).expect(200)).status).toBe(200);
    expect((await read(last)).body).toEqual({ isNew: true, data: {} });
  });

  it('costs: a logout that finds its item makes no extra call; one that finds it gone, one read; a move, one write', async () => {
    if (!log) return; // DynamoDB only
    const cookie = await start();
    log.clear();
    await post('/logout', cookie).expect(200);
    expect(log.calls).toEqual([READ_CALL, 'DeleteItem']);

    const again = await start();
    const logout = await loadedLogout(again);
    await post('/logout', again).expect(200);
    log.clear();
    logout.gate.open();
    expect((await logout.response).status).toBe(200);
    expect(log.calls).toEqual(['DeleteItem', 'GetItem']); // the delete finds nothing; the move record is read: none

    const moving = await start();
    log.clear();
    await post(REGENERATE.path, moving).expect(200);
    // Of the move's calls, one is the record: the one write a move gains, before the old item's delete.
    const onRecord = (c: { input: Record<string, unknown> }) => JSON.stringify(c.input['Key'] ?? null).includes('moved#');
    const record = log.inputs.findIndex(onRecord);
    expect(log.inputs.filter(onRecord).map((c) => c.command)).toEqual(['UpdateItem']);
    expect(log.calls.indexOf('DeleteItem')).toBeGreaterThan(record);
  });
});

describe('the move record', () => {
  const tables: string[] = [];
  const stores: DynamoDbStore[] = [];
  afterAll(async () => {
    for (const store of stores) store.close();
    await Promise.all(tables.map((t) => dropTable(t)));
  });

  it('DynamoDB: one small item under moved#<old key> (with the keyPrefix), never a session, never in the principal index', async () => {
    const { store, tableName, raw } = await storeOnNewTable({ keyPrefix: 'app1:' });
    raw.destroy();
    tables.push(tableName);
    const t = testManager({}, store);
    await t.run((s) => s.login('ada'));
    const old = keyOf(t.cookie()!);
    await t.run((s) => s.regenerate());
    const now = keyOf(t.cookie()!);
    const items = await scanItems(tableName);
    const record = items.find((i) => String(i['sessionId']).startsWith('app1:moved#'));
    expect({ ...record, expiresAt: typeof record?.['expiresAt'] }).toEqual({
      sessionId: `app1:moved#${old}`, ...(LAYOUT === 'split' && { part: '#' }), movedTo: new Set([now]), expiresAt: 'number',
    });
    const head = items.find((i) => i['sessionId'] === `app1:${now}` && (i['part'] === undefined || i['part'] === '#'))!;
    expect(record!['expiresAt']).toBeGreaterThanOrEqual(Number(head['expiresAt'])); // it outlives the old session
    expect(await store.movesOf(old)).toEqual([now]);
    expect(await store.movesOf(now)).toEqual([]);
    expect((await store.findByPrincipal('ada', t.clock.now)).map((s) => s.key)).toEqual([now]);
    // The core asks a store only for keys of the storage key's shape (a cookie's id is checked first): never this one.
    expect(isStorageKey(`moved#${old}`)).toBe(false);
  });

  it.each<[string, () => Promise<SessionStore>]>([
    ['MemoryStore', () => Promise.resolve(new MemoryStore())],
    ['DynamoDB', async () => {
      const { store, tableName, raw } = await storeOnNewTable();
      raw.destroy();
      tables.push(tableName);
      return store;
    }],
  ])('%s: moves of one session add up, and its expiry only moves forward', async (_name, make) => {
    const store = await make();
    await store.recordMove(storageKey('old'), storageKey('first'), 2_000_000_000);
    await store.recordMove(storageKey('old'), storageKey('second'), 1_900_000_000);
    expect([...(await store.movesOf(storageKey('old')))].sort()).toEqual([storageKey('first'), storageKey('second')]);
    expect(await store.movesOf(storageKey('other'))).toEqual([]);
  });

  it('DynamoDB under rotation: a move recorded before the period boundary is still found after it', async () => {
    const PERIOD = 600;
    const start = Math.floor(Date.now() / 1000 / PERIOD) * PERIOD * 1000;
    const clock = { now: start + 1000 };
    const base = randomTableName('rotmove');
    tables.push(`${base}_${start / 1000}`, `${base}_${start / 1000 + PERIOD}`, `${base}_${start / 1000 + 2 * PERIOD}`);
    const store = new DynamoDbStore({
      expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, now: () => clock.now, endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS,
    }, quietLogger);
    stores.push(store);
    await store.ready();
    await store.recordMove(storageKey('old'), storageKey('new'), Math.floor(clock.now / 1000) + PERIOD);
    clock.now += PERIOD * 1000;
    await store.rotate();
    expect(await store.movesOf(storageKey('old'))).toEqual([storageKey('new')]);
  });
});

describe('a logout is final when the store fails', () => {
  it('a move whose record cannot be written answers 503: the old session stays whole, the new id is not stored', async () => {
    const store = new FaultyStore(new MemoryStore());
    const t = testManager({ logger: quietLogger }, store);
    await t.run((s) => void (s['user'] = 'ada'));
    const before = t.cookie();
    store.inject([undefined, undefined, 'timeout']); // the load, the new item, the record
    const ctx = t.request();
    const s = await ctx.load();
    s.regenerate();
    await expect(ctx.commit()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    store.inject([]);
    expect(await store.get(keyOf(`${ctx.id}.x`))).toBeUndefined();
    expect(t.cookie()).toBe(before);
    await t.run((again) => expect({ ...again }).toEqual({ user: 'ada' }));
  });

  it('a logout that cannot read where its session went answers 503, not 2xx, and the moved session is left to a retry', async () => {
    const store = new FaultyStore(new MemoryStore());
    const t = testManager({ logger: quietLogger }, store);
    await t.run((s) => void (s['user'] = 'ada'));
    const logout = t.request();
    const s = await logout.load();
    await t.run((b) => b.regenerate()); // tab B moves it and commits first; its cookie is the browser's now
    store.inject([undefined, 'timeout']); // the delete (finds nothing), the record's read
    s.destroy();
    await expect(logout.commit()).rejects.toBeInstanceOf(SessionStoreUnavailableError);
    store.inject([]);
    await t.run((again) => {
      expect({ ...again }).toEqual({ user: 'ada' });
      again.destroy(); // the retry, with the cookie the browser has
    });
    await t.run((again) => expect(again.isNew).toBe(true));
  });
});
