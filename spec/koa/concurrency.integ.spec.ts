import request from 'supertest';
import Koa from 'koa';
import Router from '@koa/router';
import type { Server } from 'node:http';
import { session } from '../../lib/koa';
import { CallLog, dropTable, getItem, storeOnNewTable, READ_CALL } from '../support/dynamodb';
import { sessionCookieValue, keyOf } from '../support/cookies';
import { SECRET } from '../support/secrets';
import { DynamoDbStore, SessionOptions } from '../../lib';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds every racing request after it loaded until `size` of them have, so they all read the same state. */
class Barrier {
  private waiting: Array<() => void> = [];
  constructor(private size: number) {}
  arrive(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.waiting.length >= this.size) {
        this.waiting.forEach((r) => r());
        this.waiting = [];
      }
    });
  }
  reset(size: number): void {
    this.size = size;
    this.waiting = [];
  }
}

let store: DynamoDbStore;
let log: CallLog;
let tableName: string;
let server: Server | undefined;
const barrier = new Barrier(1);

function start(options: Partial<SessionOptions>): Server {
  server?.close();
  const app = new Koa();
  app.silent = true;
  const router = new Router();
  app.use(session({ store, secrets: [SECRET], ...options }));
  router.post('/seed', async (ctx) => {
    (await ctx.session)['seeded'] = true;
    ctx.body = 'ok';
  });
  router.post('/own/:i', async (ctx) => {
    const s = await ctx.session;
    await barrier.arrive();
    s[`k${ctx.params['i']}`] = Number(ctx.params['i']);
    ctx.body = 'ok';
  });
  router.post('/incr', async (ctx) => {
    const s = await ctx.session;
    const value = (s['counter'] as number | undefined) ?? 0;
    await sleep(5); // work between read and write: where unlocked increments lose each other
    s['counter'] = value + 1;
    ctx.body = String(s['counter']);
  });
  router.post('/incr-racing', async (ctx) => {
    const s = await ctx.session;
    const value = (s['counter'] as number | undefined) ?? 0;
    await barrier.arrive();
    s['counter'] = value + 1;
    ctx.body = String(s['counter']);
  });
  router.post('/cart/:item', async (ctx) => {
    const s = await ctx.session;
    await barrier.arrive();
    s['cart'] = [...((s['cart'] as string[] | undefined) ?? []), ctx.params['item']];
    ctx.body = 'ok';
  });
  router.get('/read', async (ctx) => {
    ctx.body = { ...(await ctx.session) };
  });
  router.post('/throw', async (ctx) => {
    (await ctx.session)['beforeThrow'] = true;
    ctx.throw(500, 'handler crashed');
  });
  app.use(router.routes());
  server = app.listen(0);
  return server;
}

async function seededCookie(): Promise<string> {
  const res = await request(server!).post('/seed').expect(200);
  return `sid=${sessionCookieValue(res.headers)!}`;
}

async function storedData(cookie: string): Promise<Record<string, string>> {
  return ((await getItem(tableName, keyOf(cookie.slice(4))))?.['data'] ?? {}) as Record<string, string>;
}

beforeAll(async () => {
  ({ store, log, tableName } = await storeOnNewTable());
});
afterAll(async () => {
  server?.close();
  await dropTable(tableName);
});
beforeEach(() => log.clear());

describe('optimistic (default, locking: none, last-write-wins)', () => {
  it('20 concurrent requests each setting its own attribute store all 20, with one write each', async () => {
    start({});
    const cookie = await seededCookie();
    barrier.reset(20);
    log.clear();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => request(server!).post(`/own/${i}`).set('Cookie', cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const data = await storedData(cookie);
    expect(Object.keys(data).filter((k) => k.startsWith('k')).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`).sort());
    expect(log.count(READ_CALL)).toBe(20);
    expect(log.count('UpdateItem')).toBe(20);
  });

  it('without locking, concurrent increments of one counter do lose updates (what locking is for)', async () => {
    start({});
    const cookie = await seededCookie();
    barrier.reset(20);
    await Promise.all(Array.from({ length: 20 }, () => request(server!).post('/incr-racing').set('Cookie', cookie).expect(200)));
    expect(JSON.parse((await storedData(cookie))['counter']!)).toBe(1);
  });

  it('100 read-only requests within touchAfter cost 100 reads and 0 writes', async () => {
    start({});
    const cookie = await seededCookie();
    log.clear();
    for (let i = 0; i < 100; i++) await request(server!).get('/read').set('Cookie', cookie).expect(200);
    expect(log.count(READ_CALL)).toBe(100);
    expect(log.count()).toBe(100);
  });
});

describe("onConflict: 'reject'", () => {
  it('two concurrent writers of one attribute: one succeeds, the other gets 409, the stored value is the winner', async () => {
    start({ onConflict: 'reject' });
    const cookie = await seededCookie();
    barrier.reset(2);
    const [a, b] = await Promise.all(['apple', 'pear'].map((item) => request(server!).post(`/cart/${item}`).set('Cookie', cookie)));
    expect([a!.status, b!.status].sort()).toEqual([200, 409]);
    const winner = a!.status === 200 ? 'apple' : 'pear';
    expect(JSON.parse((await storedData(cookie))['cart']!)).toEqual([winner]);
    const loser = a!.status === 409 ? a! : b!;
    expect(loser.text).toMatch(/^Another request changed "cart" while this one was running; nothing was written/); // 4xx: exposed
  });

  it('writers of different attributes never conflict', async () => {
    start({ onConflict: 'reject' });
    const cookie = await seededCookie();
    barrier.reset(10);
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => request(server!).post(`/own/${i}`).set('Cookie', cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(Object.keys(await storedData(cookie)).filter((k) => k.startsWith('k'))).toHaveLength(10);
  });
});

describe('onConflict: a merge function', () => {
  it('20 concurrent cart additions all survive when the merge unions the lists', async () => {
    start({
      onConflict: (_attribute, mine, theirs) => [...new Set([...((theirs as string[]) ?? []), ...((mine as string[]) ?? [])])],
      maxCommitRetries: 30,
    });
    const cookie = await seededCookie();
    barrier.reset(20);
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => request(server!).post(`/cart/item${i}`).set('Cookie', cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((JSON.parse((await storedData(cookie))['cart']!) as string[]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `item${i}`).sort());
  });
});

describe("locking: 'all' and { uriPattern }", () => {
  it('20 concurrent increments of one counter store exactly 20', async () => {
    start({ locking: 'all' });
    const cookie = await seededCookie();
    const responses = await Promise.all(Array.from({ length: 20 }, () => request(server!).post('/incr').set('Cookie', cookie)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(responses.map((r) => Number(r.text)).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const item = await getItem(tableName, keyOf(cookie.slice(4)));
    expect(JSON.parse((item!['data'] as Record<string, string>)['counter']!)).toBe(20);
    expect(item!['lockOwner']).toBeUndefined(); // every lease was released
  });

  it('with uriPattern, matching requests lock and others read without a lock', async () => {
    start({ locking: { uriPattern: 'POST /incr' } });
    const cookie = await seededCookie();
    log.clear();
    await request(server!).get('/read').set('Cookie', cookie).expect(200);
    expect(log.calls).toEqual([READ_CALL]);
    log.clear();
    await request(server!).post('/incr').set('Cookie', cookie).expect(200);
    expect(log.calls).toEqual(['UpdateItem', 'UpdateItem']); // take the lease (returning the item), write and release
    const responses = await Promise.all(Array.from({ length: 10 }, () => request(server!).post('/incr').set('Cookie', cookie)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(JSON.parse((await storedData(cookie))['counter']!)).toBe(11);
  });

  it('a lock holder that dies blocks others for at most lockExpiration', async () => {
    start({ locking: 'all', lockExpiration: 1500, lockTimeout: 5000 });
    const cookie = await seededCookie();
    const key = keyOf(cookie.slice(4));
    const now = Date.now();
    expect((await store.acquire(key, 'crashed-request', now + 1500, now)).status).toBe('locked'); // and never commits
    const started = Date.now();
    await request(server!).post('/incr').set('Cookie', cookie).expect(200);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1000); // it did wait for the lease
    expect(waited).toBeLessThan(1500 + 1500); // and no longer than the lease plus a poll step and the request
    expect(JSON.parse((await storedData(cookie))['counter']!)).toBe(1);
  });

  it('a waiter gives up after lockTimeout with 503 and never proceeds unlocked', async () => {
    start({ locking: 'all', lockExpiration: 5000, lockTimeout: 300 });
    const cookie = await seededCookie();
    const key = keyOf(cookie.slice(4));
    const now = Date.now();
    await store.acquire(key, 'slow-request', now + 5000, now);
    await request(server!).post('/incr').set('Cookie', cookie).expect(503);
    expect((await storedData(cookie))['counter']).toBeUndefined();
    await store.release(key, 'slow-request');
  });

  it('releases the lock when the handler throws, and when the commit is refused', async () => {
    start({ locking: 'all', lockTimeout: 500 });
    const cookie = await seededCookie();
    await request(server!).post('/throw').set('Cookie', cookie).expect(500);
    expect((await getItem(tableName, keyOf(cookie.slice(4))))!['lockOwner']).toBeUndefined();
    expect((await storedData(cookie))['beforeThrow']).toBe('true');
    await request(server!).post('/incr').set('Cookie', cookie).expect(200); // not blocked
  });

  it('a read-only request under locking releases its lease without writing data', async () => {
    start({ locking: 'all' });
    const cookie = await seededCookie();
    const before = await getItem(tableName, keyOf(cookie.slice(4)));
    log.clear();
    await request(server!).get('/read').set('Cookie', cookie).expect(200);
    expect(log.calls).toEqual(['UpdateItem', 'UpdateItem']); // acquire, release
    const after = await getItem(tableName, keyOf(cookie.slice(4)));
    expect(after!['data']).toEqual(before!['data']);
    expect(after!['lockOwner']).toBeUndefined();
  });
});
