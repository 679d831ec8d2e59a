import request from 'supertest';
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
