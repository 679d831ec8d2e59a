import request from 'supertest';
import type { Server } from 'node:http';
import Koa from 'koa';
import { session } from '../../lib/koa';
import { koaApp } from '../support/koa-app';
import { CallLog, dropTable, getItem, scanTable, storeOnNewTable, READ_CALL, LAYOUT } from '../support/dynamodb';
import { sessionCookieValue, setCookies, keyOf } from '../support/cookies';
import { OLD_SECRET, SECRET } from '../support/secrets';
import type { DynamoDbStore, SessionOptions } from '../../lib';
import { dataOf } from '../support/response-body';

let store: DynamoDbStore;
let log: CallLog;
let tableName: string;
let server: Server;
let now = Date.UTC(2030, 0, 1);

function listen(options: Partial<SessionOptions> = {}): Server {
  server?.close();
  server = koaApp({ store, secrets: [SECRET], now: () => now, ignoreUris: ['/health'], ignoreHeaders: 'X-Health-Probe', ...options }).listen(0);
  return server;
}

/** A browser: keeps the session cookie between requests. */
function browser() {
  return request.agent(server);
}


beforeAll(async () => {
  ({ store, log, tableName } = await storeOnNewTable());
});
beforeEach(() => {
  now += 3_600_000; // every test starts an hour later, so sessions from earlier tests have expired
  listen();
  log.clear();
});
afterAll(async () => {
  server.close();
  await dropTable(tableName);
});

describe('Koa middleware on DynamoDB Local: DynamoDB calls per request', () => {
  it('makes no DynamoDB call for a route that never reads the session, even with a session cookie', async () => {
    const b = browser();
    await b.post('/set/a/1').expect(200);
    log.clear();
    const res = await b.get('/none').expect(200, 'no session here');
    expect(log.calls).toEqual([]);
    expect(setCookies(res.headers)).toEqual([]);
  });

  it('reads an existing session with exactly one read call and writes nothing', async () => {
    const b = browser();
    await b.post('/set/a/1').expect(200);
    log.clear();
    const res = await b.get('/read').expect(200);
    expect(res.body).toEqual({ isNew: false, data: { a: '1' } });
    expect(log.calls).toEqual([READ_CALL]);
    expect(log.inputs[0]!.input['ConsistentRead']).toBe(true);
    expect(setCookies(res.headers)).toEqual([]);
  });

  it('changes one attribute with one read and one UpdateItem that touches only that attribute', async () => {
    const b = browser();
    await b.post('/set/a/1').expect(200);
    await b.post('/set/b/2').expect(200);
    log.clear();
    await b.post('/set/b/3').expect(200);
    expect(log.calls).toEqual([READ_CALL, 'UpdateItem']);
    const update = log.inputs[1]!.input as { UpdateExpression: string; ExpressionAttributeNames: Record<string, string> };
    const dataNames = Object.values(update.ExpressionAttributeNames).filter((n) => !['data', 'lastAccessedAt', 'expiresAt', 'writeToken', 'fences', 'version', 'sessionId', 'parts', 'partSince', 'partInfo', 'partsExpireAt'].includes(n));
    expect(dataNames).toEqual(['b']);
    expect(update.UpdateExpression).not.toMatch(/#n\d+ = :v\d+, #n\d+\.#n\d+ = .*#n\d+\.#n\d+ =/); // one data path only
    const res = await b.get('/read').expect(200);
    expect(dataOf(res)).toEqual({ a: '1', b: '3' });
  });

  it('writes nothing and sets no cookie for a new session left empty', async () => {
    const res = await request(server).get('/read').expect(200);
    expect(res.body).toEqual({ isNew: true, data: {} });
    expect(log.calls).toEqual([]); // no cookie: nothing to read either
    expect(setCookies(res.headers)).toEqual([]);
  });

  it('creates a session with one UpdateItem and a signed, HttpOnly, SameSite=Lax cookie with Cache-Control: no-store', async () => {
    const res = await request(server).post('/set/a/1').expect(200);
    expect(log.calls).toEqual(['UpdateItem']);
    const [cookie] = setCookies(res.headers);
    expect(cookie).toMatch(/^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('catches nested mutation without reassignment (per-attribute hashes)', async () => {
    const b = browser();
    await b.post('/cart').set('x-item', 'apple').expect(200);
    log.clear();
    await b.post('/cart-in-place').set('x-item', 'pear').expect(200);
    expect(log.calls).toEqual([READ_CALL, 'UpdateItem']);
    expect(dataOf(await b.get('/read')).cart).toEqual({ items: ['apple', 'pear'] });
  });

  it('removes a deleted attribute with REMOVE and keeps the others', async () => {
    const b = browser();
    await b.post('/set/a/1');
    await b.post('/set/b/2');
    log.clear();
    await b.delete('/attr/a').expect(200);
    expect(log.inputs[1]!.input['UpdateExpression']).toMatch(/REMOVE #n\d+\.#n\d+/);
    expect(dataOf(await b.get('/read'))).toEqual({ b: '2' });
  });
});

describe('rejected session cookies', () => {
  it.each([
    ['tampered', (v: string) => v.slice(0, 10) + (v[10] === 'A' ? 'B' : 'A') + v.slice(11)],
    ['unsigned', (v: string) => v.split('.')[0]!],
    ['signature of another id', (v: string) => 'A'.repeat(43) + '.' + v.split('.')[1]],
    ['garbage', () => 'not-a-session-id'],
    ['empty', () => ''],
  ])('a %s cookie gives a fresh session with a new id, costs no DynamoDB call, and is never written', async (_, mangle) => {
    const created = await request(server).post('/set/user/alice').expect(200);
    const good = sessionCookieValue(created.headers)!;
    const bad = mangle(good);
    log.clear();
    const marker = Math.random().toString(36).slice(2);
    const res = await request(server).post(`/set/x/${marker}`).set('Cookie', `sid=${bad}`).expect(200);
    expect(dataOf(res)).toEqual({ x: marker }); // alice's data is not visible
    expect(log.calls).toEqual(['UpdateItem']); // the create: no read for the rejected id
    const issued = sessionCookieValue(res.headers)!;
    expect(issued.split('.')[0]).not.toBe(bad.split('.')[0]);
    // The only item holding this request's write is the fresh session's; alice's is untouched.
    const writtenTo = (await scanTable(tableName)).filter((i) => (i['data'] as Record<string, string>)['x'] === JSON.stringify(marker));
    expect(writtenTo.map((i) => i['sessionId'])).toEqual([keyOf(issued)]);
    expect((await getItem(tableName, keyOf(good)))?.['data']).toEqual({ user: '"alice"' });
  });

  it('an unknown but well-signed id (never stored) gives a fresh session and is not adopted', async () => {
    const res = await request(server).post('/set/a/1');
    const value = sessionCookieValue(res.headers)!;
    await request(server).post('/logout').set('Cookie', `sid=${value}`).expect(200);
    log.clear();
    const after = await request(server).post('/set/b/2').set('Cookie', `sid=${value}`).expect(200);
    expect(dataOf(after)).toEqual({ b: '2' });
    const issued = sessionCookieValue(after.headers)!;
    expect(issued).not.toBe(value);
    expect(await getItem(tableName, keyOf(value))).toBeUndefined();
  });

  it('an expired session is not served, and a write does not resurrect it', async () => {
    const b = browser();
    const first = await b.post('/set/a/1');
    const value = sessionCookieValue(first.headers)!;
    now += 1801 * 1000; // past the default maxInactiveInterval; DynamoDB TTL has not deleted it yet
    expect(await getItem(tableName, keyOf(value))).toBeDefined();
    const res = await b.post('/set/b/2').expect(200);
    expect(dataOf(res)).toEqual({ b: '2' });
    const item = await getItem(tableName, keyOf(value));
    expect(item?.['data']).toEqual({ a: '"1"' });
    expect(sessionCookieValue(res.headers)).not.toBe(value);
  });

  it('re-issues a cookie signed with an old secret under the newest one', async () => {
    listen({ secrets: [OLD_SECRET] });
    const res = await request(server).post('/set/a/1');
    const oldValue = sessionCookieValue(res.headers)!;
    listen({ secrets: [SECRET, OLD_SECRET] });
    const read = await request(server).get('/read').set('Cookie', `sid=${oldValue}`).expect(200);
    expect(dataOf(read)).toEqual({ a: '1' });
    const reissued = sessionCookieValue(read.headers)!;
    expect(reissued.split('.')[0]).toBe(oldValue.split('.')[0]);
    expect(reissued).not.toBe(oldValue);
  });
});

describe('ignoreUris and ignoreHeaders', () => {
  it('an ignored URI changes nothing in the table even though the handler mutates the session', async () => {
    const b = browser();
    await b.post('/set/a/1');
    const before = await scanTable(tableName);
    log.clear();
    const res = await b.get('/health').expect(200);
    expect(log.calls).toEqual([READ_CALL]);
    expect(setCookies(res.headers)).toEqual([]);
    expect(await scanTable(tableName)).toEqual(before);
  });

  it('an ignored URI with a query string is still ignored (the path is matched)', async () => {
    await request(server).get('/health?probe=1').expect(200);
    expect(log.count('UpdateItem')).toBe(0);
  });

  it('a request carrying an ignored header name (any case) writes nothing', async () => {
    const b = browser();
    await b.post('/set/a/1');
    log.clear();
    const res = await b.post('/set/a/2').set('x-health-probe', 'yes').expect(200);
    expect(dataOf(res)).toEqual({ a: '2' }); // the handler saw its change
    expect(log.calls).toEqual([READ_CALL]);
    expect(dataOf(await b.get('/read'))).toEqual({ a: '1' });
  });

  it('a new session on an ignored request gets no cookie and no item', async () => {
    const res = await request(server).post('/set/a/1').set('X-Health-Probe', '1').expect(200);
    expect(setCookies(res.headers)).toEqual([]);
    expect(log.calls).toEqual([]);
  });

  it('string patterns match the whole path, as Pattern.matches does in the Tomcat managers', async () => {
    const res = await request(server).get('/healthy').expect(404);
    void res;
    listen({ ignoreUris: ['/set/.*'] });
    await request(server).post('/set/a/1').expect(200);
    expect(log.count('UpdateItem')).toBe(0);
  });
});

describe('destroy and regenerate', () => {
  it('destroy() deletes the item and expires the cookie', async () => {
    const b = browser();
    const created = await b.post('/set/a/1');
    const value = sessionCookieValue(created.headers)!;
    log.clear();
    const res = await b.post('/logout').expect(200);
    expect(log.calls).toEqual([READ_CALL, 'DeleteItem']);
    expect(setCookies(res.headers)[0]).toMatch(/^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
    expect(await getItem(tableName, keyOf(value))).toBeUndefined();
  });

  it('regenerate() keeps the data under a new id and removes the old item', async () => {
    const b = browser();
    const created = await b.post('/cart').set('x-item', 'apple');
    const oldValue = sessionCookieValue(created.headers)!;
    log.clear();
    const res = await b.post('/login/alice').expect(200);
    // The new item, the record of the move (a logout racing it follows it), then the old item goes. Split, the old
    // session is read again (settled, any part write in flight landed) right before it is retired.
    expect(log.calls).toEqual(LAYOUT === 'split' ? ['Query', 'UpdateItem', 'UpdateItem', 'Query', 'DeleteItem'] : ['GetItem', 'UpdateItem', 'UpdateItem', 'DeleteItem']);
    const newValue = sessionCookieValue(res.headers)!;
    expect(newValue.split('.')[0]).not.toBe(oldValue.split('.')[0]);
    expect(await getItem(tableName, keyOf(oldValue))).toBeUndefined();
    expect(dataOf(await b.get('/read'))).toEqual({ cart: { items: ['apple'] }, user: 'alice' });
    const stale = await request(server).get('/read').set('Cookie', `sid=${oldValue}`);
    expect(stale.body).toEqual({ isNew: true, data: {} });
  });
});

describe('stored layout', () => {
  it('never stores the raw session id, only its SHA-256', async () => {
    const res = await request(server).post('/set/a/1');
    const value = sessionCookieValue(res.headers)!;
    const rawId = value.split('.')[0]!;
    const items = await scanTable(tableName);
    const dump = JSON.stringify(items);
    expect(dump).not.toContain(rawId);
    expect(items.map((i) => i['sessionId'])).toContain(keyOf(value));
  });

  it('stores data, version, timestamps and expiresAt in epoch seconds', async () => {
    const res = await request(server).post('/set/a/1');
    const item = (await getItem(tableName, keyOf(sessionCookieValue(res.headers)!)))!;
    expect(item).toMatchObject({ data: { a: '"1"' }, version: 1, createdAt: now, lastAccessedAt: now, expiresAt: Math.floor(now / 1000) + 1800 });
    expect(typeof item['writeToken']).toBe('string');
  });
});

describe('commit and the handler', () => {
  it('saves the state a failing handler left and keeps its error response with the cookie', async () => {
    const res = await request(server).post('/fail-after-set').expect(422);
    const value = sessionCookieValue(res.headers)!;
    expect(value).toBeDefined();
    const item = await getItem(tableName, keyOf(value));
    expect(item?.['data']).toEqual({ beforeFailure: 'true' });
  });

  it('shows up by name (dynamoSession) in the stack of an error thrown behind it', async () => {
    const app = new Koa();
    app.silent = true;
    const errors: Error[] = [];
    app.on('error', (e: Error) => errors.push(e));
    app.use(session({ store, secrets: [SECRET] }));
    app.use(async (ctx) => {
      await ctx.session;
      throw new Error('handler failed');
    });
    await request(app.callback()).get('/').expect(500);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.stack).toMatch(/^\s+at (async )?dynamoSession \(/m);
  });

  it('touches an unchanged session only when less than maxInactiveInterval - touchAfter remains', async () => {
    const b = browser();
    await b.post('/set/a/1');
    log.clear();
    now += 30_000; // within touchAfter (60 s)
    await b.get('/read');
    expect(log.calls).toEqual([READ_CALL]);
    now += 31_000; // 61 s since the write
    await b.get('/read');
    expect(log.calls).toEqual([READ_CALL, READ_CALL, 'UpdateItem']);
    const update = log.inputs[2]!.input as { ExpressionAttributeNames: Record<string, string> };
    expect(Object.values(update.ExpressionAttributeNames)).not.toContain('data');
  });

  it('touch() forces the expiry forward', async () => {
    const b = browser();
    await b.post('/set/a/1');
    log.clear();
    await b.post('/touch');
    expect(log.calls).toEqual([READ_CALL, 'UpdateItem']);
  });
});
