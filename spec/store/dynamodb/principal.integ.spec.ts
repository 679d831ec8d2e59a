import { expect } from '@jest/globals';
import request from 'supertest';
import Koa from 'koa';
import Router from '@koa/router';
import { session } from '../../../lib/koa';
import { dropTable, readableKey, scanTable, storageKey, storeOnNewTable } from '../../support/dynamodb';
import { sessionCookieValue, keyOf } from '../../support/cookies';
import { SECRET } from '../../support/secrets';
import type { DynamoDbStore } from '../../../lib';

function app(store: DynamoDbStore): ReturnType<Koa['callback']> {
  const koa = new Koa();
  const router = new Router();
  koa.use(session({ store, secrets: [SECRET] }));
  router.post('/login/:user', async (ctx) => {
    const s = await ctx.session;
    s.regenerate();
    s.setPrincipal(ctx.params['user']!);
    s['user'] = ctx.params['user'];
    ctx.body = 'ok';
  });
  router.get('/me', async (ctx) => {
    const s = await ctx.session;
    ctx.body = { user: s['user'] ?? null, principal: s.principal ?? null };
  });
  koa.use(router.routes());
  return koa.callback();
}

describe('find and destroy sessions by principal (GSI principal-index)', () => {
  let tableName: string;
  let a: DynamoDbStore;
  let b: DynamoDbStore;
  beforeAll(async () => {
    ({ store: a, tableName } = await storeOnNewTable());
    b = (await storeOnNewTable({ tableName })).store;
  });
  afterAll(() => dropTable(tableName));

  it('three sessions of one user on two app instances: destroyByPrincipal removes all three, each next request is fresh', async () => {
    const appA = app(a);
    const appB = app(b);
    const cookies: string[] = [];
    for (const target of [appA, appB, appA]) {
      cookies.push(sessionCookieValue((await request(target).post('/login/ada').expect(200)).headers)!);
    }
    const other = sessionCookieValue((await request(appB).post('/login/grace').expect(200)).headers)!;

    const found = await a.findByPrincipal('ada');
    expect(found.map((f) => f.key).sort()).toEqual(cookies.map((c) => keyOf(c)).sort());
    expect(JSON.stringify(found)).not.toContain(cookies[0]!.split('.')[0]); // hashes, never ids
    expect(found[0]).toEqual({ key: expect.any(String), createdAt: expect.any(Number), lastAccessedAt: expect.any(Number), expiresAt: expect.any(Number) });

    expect(await b.destroyByPrincipal('ada')).toBe(3);
    for (const [i, cookie] of cookies.entries()) {
      const res = await request(i === 1 ? appB : appA).get('/me').set('Cookie', `sid=${cookie}`).expect(200);
      expect(res.body).toEqual({ user: null, principal: null });
    }
    expect((await request(appA).get('/me').set('Cookie', `sid=${other}`)).body).toEqual({ user: 'grace', principal: 'grace' });
    expect(await a.findByPrincipal('ada')).toEqual([]);
  });
});

describe('destroyByPrincipal with many sessions ("sign out everywhere")', () => {
  let tableName: string;
  afterAll(() => dropTable(tableName));

  it("destroys 160 sessions of one user, each with a delete conditioned on the user, and leaves everyone else's", async () => {
    const { store, log, tableName: table } = await storeOnNewTable({ keyPrefix: 'shop:' });
    tableName = table;
    const other = (await storeOnNewTable({ tableName, keyPrefix: 'admin:' })).store; // another app on the same table
    const now = Date.now();
    const times = { createdAt: now, lastAccessedAt: now, expiresAt: Math.floor(now / 1000) + 1800 };
    const create = async (s: DynamoDbStore, count: number, key: (i: number) => string, principal?: string) => {
      for (let i = 0; i < count; i += 20) {
        await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, j) => s.create(storageKey(key(i + j)), { ...times, data: { n: String(i + j) }, ...(principal && { principal }) })));
      }
    };
    await create(store, 160, (i) => `ada-${i}`, 'ada');
    await create(store, 5, (i) => `grace-${i}`, 'grace');
    await create(store, 3, (i) => `anonymous-${i}`);
    await create(other, 2, (i) => `ada-admin-${i}`, 'ada');
    log.clear();

    expect(await store.destroyByPrincipal('ada')).toBe(160);
    // BatchWriteItem cannot carry a condition: one DeleteItem per session, conditioned on the user the index named
    // (the index may lag a change of user); no parts here, so no BatchWriteItem. One index Query for the page.
    expect(log.count('DeleteItem')).toBe(160);
    type Delete = { ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> };
    const deletes = log.inputs.filter((c) => c.command === 'DeleteItem').map((c) => c.input as Delete);
    const onTheUser = (d: Delete): boolean => {
      const [, name, value] = /^(#\w+) = (:\w+) AND /.exec(d.ConditionExpression ?? '') ?? [];
      return name !== undefined && d.ExpressionAttributeNames?.[name] === 'principal' && d.ExpressionAttributeValues?.[value!] === 'ada';
    };
    expect(deletes.filter((d) => !onTheUser(d))).toEqual([]);
    expect(log.count('BatchWriteItem')).toBe(0);
    expect(log.count('Query')).toBe(1);

    const left = (await scanTable(tableName)).map((item) => readableKey(item['sessionId'])).sort();
    expect(left).toEqual([
      'admin:ada-admin-0', 'admin:ada-admin-1',
      'shop:anonymous-0', 'shop:anonymous-1', 'shop:anonymous-2',
      'shop:grace-0', 'shop:grace-1', 'shop:grace-2', 'shop:grace-3', 'shop:grace-4',
    ]);
    expect(await store.findByPrincipal('ada')).toEqual([]);
    expect(await other.findByPrincipal('ada')).toHaveLength(2);
    expect(await store.destroyByPrincipal('ada')).toBe(0);
  });
});
