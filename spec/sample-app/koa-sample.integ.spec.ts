import request from 'supertest';
import type Koa from 'koa';
import { createKoaSample } from '../../sample-app/koa/app';
import { dropTable, storeOnNewTable } from '../support/dynamodb';
import { SECRET } from '../support/secrets';

describe('Koa sample app on DynamoDB Local', () => {
  it('logs in, fills a cart that survives a new app instance on the same table, and logs out', async () => {
    const { store, tableName } = await storeOnNewTable();
    try {
      const first = request.agent(createKoaSample(store, [SECRET]).callback());
      expect((await first.get('/').expect(200)).text).toContain('<h1>dynamo-session sample');
      await first.post('/api/login').send({ name: 'Ada' }).expect(200);
      await first.post('/api/cart').send({ item: 'tea' }).expect(200);
      await first.post('/api/cart').send({ item: 'tea' }).expect(200);
      const cookie = (await first.get('/api/me')).headers['set-cookie'];
      void cookie;

      // A second instance (another node behind the load balancer) with the same cookie jar.
      const second = createKoaSample((await storeOnNewTable({ tableName })).store, [SECRET]).callback();
      const jar = (first as unknown as { jar: { getCookies(o: object): Array<{ toValueString(): string }> } }).jar;
      const cookies = jar.getCookies({ domain: '127.0.0.1', path: '/', secure: false, script: false }).map((c) => c.toValueString()).join('; ');
      const me = await request(second).get('/api/me').set('Cookie', cookies).expect(200);
      expect(me.body).toMatchObject({ user: { name: 'Ada' }, cart: [{ name: 'tea', qty: 2 }] });

      await first.post('/api/logout').expect(200);
      expect((await first.get('/api/me')).body).toMatchObject({ user: null, cart: [] });
      await first.post('/api/login').send({}).expect(400);
    } finally {
      await dropTable(tableName);
    }
  });
});

describe('Koa sample app: client input it cannot use is a 4xx, never a 500', () => {
  let tableName: string;
  let app: Koa;
  const serverErrors: unknown[] = [];
  beforeAll(async () => {
    const created = await storeOnNewTable();
    tableName = created.tableName;
    app = createKoaSample(created.store, [SECRET]);
    app.silent = true;
    app.on('error', (e: { status?: number }) => {
      if ((e.status ?? 500) >= 500) serverErrors.push(e);
    });
  });
  afterAll(() => dropTable(tableName));
  afterEach(() => {
    expect(serverErrors.splice(0)).toEqual([]); // and each test starts with none
  });

  const deepArrays = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    request(app.callback()).post(path).set({ 'Content-Type': 'application/json', ...headers }).send(body);

  it.each([
    ['an item whose toString is null', '/api/cart', '{"item":{"toString":null}}'],
    ['a login name whose toString is null', '/api/login', '{"name":{"toString":null}}'],
    ['an item of 3,164 nested arrays', '/api/cart', `{"item":${deepArrays(3164)}}`],
    ['a login name of 3,164 nested arrays', '/api/login', `{"name":${deepArrays(3164)}}`],
    ['an item that is an object', '/api/cart', '{"item":{"name":"tea"}}'],
    ['a login name in an array', '/api/login', '{"name":["Ada"]}'],
    ['an item of 10,000 characters', '/api/cart', JSON.stringify({ item: 'x'.repeat(10_000) })],
    ['a login name of 10,000 characters', '/api/login', JSON.stringify({ name: 'x'.repeat(10_000) })],
    ['a blank item', '/api/cart', '{"item":"   "}'],
    ['a JSON body that is not an object', '/api/cart', '"tea"'],
    ['malformed JSON', '/api/cart', '{"item":'],
  ])('%s: 400', async (_, path, body) => {
    const res = await post(path, body).expect(400);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it.each(['/api/cart', '/api/login'])('%s with Content-Encoding: gzip on a body that is not gzip: 400', async (path) => {
    await post(path, '{"item":"tea","name":"Ada"}', { 'Content-Encoding': 'gzip' }).expect(400);
  });

  it('keeps the status body-parser gives: 415 for an encoding it does not know, 413 for a body over its limit', async () => {
    await post('/api/cart', '{"item":"tea"}', { 'Content-Encoding': 'x-unknown' }).expect(415);
    await post('/api/cart', JSON.stringify({ item: 'x'.repeat(2 * 1024 * 1024) })).expect(413);
  });

  it('takes a number as an item, and a name or item with spaces around it trimmed', async () => {
    const browser = request.agent(app.callback());
    expect((await browser.post('/api/login').send({ name: '  Ada ' }).expect(200)).body).toEqual({ user: { name: 'Ada' } });
    expect((await browser.post('/api/cart').send({ item: 42 }).expect(200)).body).toEqual({ cart: [{ name: '42', qty: 1 }] });
    expect((await browser.post('/api/cart').send({ item: ' 42 ' }).expect(200)).body).toEqual({ cart: [{ name: '42', qty: 2 }] });
  });
});
