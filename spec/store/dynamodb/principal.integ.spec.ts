import request from 'supertest';
import Koa from 'koa';
import Router from '@koa/router';
import { session } from '../../../lib/koa';
import { dropTable, storeOnNewTable } from '../../support/dynamodb';
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
