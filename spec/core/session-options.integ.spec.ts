import request from 'supertest';
import { koaApp } from '../support/koa-app';
import { getItem, tableForSuite, storeOnNewTable } from '../support/dynamodb';
import { sessionCookieValue, keyOf } from '../support/cookies';
import { SECRET } from '../support/secrets';
import { testManager } from '../support/manager';
import type { Serializer } from '../../lib';

/** JSON that keeps Dates: what the `serializer` option is for. */
const dateSerializer: Serializer = {
  encode: (value) => JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.toISOString() } : (v as unknown);
  }),
  decode: (encoded) => JSON.parse(String(encoded), (_k, v: { $date?: string }) => (v && typeof v === 'object' && typeof v.$date === 'string' ? new Date(v.$date) : v)) as unknown,
};

describe('attributeFilter, keyPrefix, serializer and logSessionContents on DynamoDB Local', () => {
  const suite = tableForSuite();

  it('attributeFilter: only matching attributes are written; others live for the request only', async () => {
    const t = testManager({ attributeFilter: /^(user|cart)$/ }, suite.store);
    await t.run((s) => void Object.assign(s, { user: 'ada', cart: ['tea'], tmp: 'scratch' }));
    const item = (await getItem(suite.tableName, keyOf(t.cookie()!)))!;
    expect(Object.keys(item['data'] as object).sort()).toEqual(['cart', 'user']);
    await t.run((s) => {
      expect({ ...s }).toEqual({ user: 'ada', cart: ['tea'] });
      s['tmp'] = 'again';
    });
    expect(Object.keys((await getItem(suite.tableName, keyOf(t.cookie()!)))!['data'] as object)).not.toContain('tmp');
  });

  it('keyPrefix: two apps on one table cannot read each other\'s sessions with the same cookie value', async () => {
    const shop = (await storeOnNewTable({ tableName: suite.tableName, keyPrefix: 'shop#' })).store;
    const admin = (await storeOnNewTable({ tableName: suite.tableName, keyPrefix: 'admin#' })).store;
    const shopApp = koaApp({ store: shop, secrets: [SECRET] }).callback();
    const adminApp = koaApp({ store: admin, secrets: [SECRET] }).callback();
    const cookie = sessionCookieValue((await request(shopApp).post('/set/role/customer').expect(200)).headers)!;
    expect((await request(shopApp).get('/read').set('Cookie', `sid=${cookie}`)).body).toEqual({ isNew: false, data: { role: 'customer' } });
    expect((await request(adminApp).get('/read').set('Cookie', `sid=${cookie}`)).body).toEqual({ isNew: true, data: {} });
    expect(await getItem(suite.tableName, `shop#${keyOf(cookie)}`)).toBeDefined();
  });

  it('serializer: a custom encoding round-trips a Date', async () => {
    const dated = (await storeOnNewTable({ tableName: suite.tableName, keyPrefix: 'dated#', serializer: dateSerializer })).store;
    const t = testManager({}, dated);
    const at = new Date('2030-05-06T07:08:09.010Z');
    await t.run((s) => void (s['lastLogin'] = { at }));
    await t.run((s) => {
      expect((s['lastLogin'] as { at: Date }).at).toBeInstanceOf(Date);
      expect((s['lastLogin'] as { at: Date }).at.toISOString()).toBe(at.toISOString());
    });
  });

  it('logSessionContents: loaded and saved attributes at debug level, redacted keys masked at any depth', async () => {
    const logs: Array<{ level: string; message: string; meta: unknown[] }> = [];
    const record = (level: string) => (message: string, ...meta: unknown[]) => logs.push({ level, message, meta });
    const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
    const t = testManager({ logSessionContents: true, redact: ['password', 'token'], logger }, suite.store);
    await t.run((s) => void (s['user'] = { name: 'ada', password: 'hunter2', sso: { token: 'abc' } }));
    await t.run((s) => void (s['cart'] = ['tea']));
    const contents = logs.filter((l) => /^session [\w-]+ (loaded|saved)$/.test(l.message));
    expect(contents.map((l) => [l.level, l.message.split(' ')[2]])).toEqual([['debug', 'saved'], ['debug', 'loaded'], ['debug', 'saved']]);
    expect(contents[0]!.meta).toEqual([{ user: { name: 'ada', password: '[redacted]', sso: { token: '[redacted]' } } }]);
    expect(JSON.stringify(logs)).not.toContain('hunter2');
    expect(JSON.stringify(logs)).not.toContain(t.cookie()!.split('.')[0]); // ids never reach the log
  });

  it('logs nothing about contents unless asked', async () => {
    const messages: string[] = [];
    const logger = { debug: (m: string) => messages.push(m), info() {}, warn() {}, error() {} };
    const t = testManager({ logger }, suite.store);
    await t.run((s) => void (s['user'] = 'ada'));
    await t.run(() => undefined);
    expect(messages.filter((m) => /loaded|saved/.test(m))).toEqual([]);
  });
});
