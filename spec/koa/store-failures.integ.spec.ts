import { quietLogger } from '../support/quiet-logger';
import request from 'supertest';
import { koaApp } from '../support/koa-app';
import { dropTable, getItem, storeOnNewTable } from '../support/dynamodb';
import { sessionCookieValue, setCookies, keyOf } from '../support/cookies';
import { SECRET } from '../support/secrets';
import { DynamoDbStore, SessionStoreUnavailableError, SessionTooLargeError } from '../../lib';


describe('Koa: store failures and refused writes', () => {
  let store: DynamoDbStore;
  let tableName: string;
  beforeEach(async () => {
    ({ store, tableName } = await storeOnNewTable());
  });
  afterEach(() => dropTable(tableName));

  it('answers 503 with Retry-After and no Set-Cookie when the table is gone, and the app sees a typed error', async () => {
    const app = koaApp({ store, secrets: [SECRET], logger: quietLogger });
    const seen: unknown[] = [];
    app.on('error', (e) => seen.push(e));
    app.silent = true;
    const agent = request.agent(app.callback());
    await agent.post('/set/a/1').expect(200);
    await dropTable(tableName);
    const res = await agent.post('/set/a/2').expect(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(setCookies(res.headers)).toEqual([]);
    expect(seen[0]).toBeInstanceOf(SessionStoreUnavailableError);
    const fresh = await request(app.callback()).post('/set/a/1').expect(503);
    expect(setCookies(fresh.headers)).toEqual([]); // a new session is never acknowledged unstored
  });

  it('refuses a 450 KB session with SessionTooLargeError (413) and keeps the stored session as it was', async () => {
    const app = koaApp({ store, secrets: [SECRET], compressThreshold: 10_000_000 });
    app.silent = true;
    const seen: unknown[] = [];
    app.on('error', (e) => seen.push(e));
    const agent = request.agent(app.callback());
    const created = await agent.post('/set/a/1').expect(200);
    const value = sessionCookieValue(created.headers)!;
    const res = await agent.post('/big/photo/450').expect(413);
    expect(res.text).toMatch(/over DynamoDB's item limit .*Largest attributes: photo/);
    expect(seen).toEqual([expect.any(SessionTooLargeError)]);
    expect((await getItem(tableName, keyOf(value)))?.['data']).toEqual({ a: '"1"' });
  });

  it.each(['gzip', 'brotli'] as const)('stores a 300 KB compressible value %s-compressed, far smaller, and reads it back whole', async (compression) => {
    const app = koaApp({ store, secrets: [SECRET], compression });
    const agent = request.agent(app.callback());
    const value = sessionCookieValue((await agent.post('/compressible/notes/300').expect(200)).headers)!;
    const stored = (await getItem(tableName, keyOf(value)))?.['data'] as Record<string, Uint8Array>;
    expect(stored['notes']).toBeInstanceOf(Uint8Array);
    expect(stored['notes']!.byteLength).toBeLessThan(10_000); // from more than 300 000 bytes
    const read = await agent.get('/read').expect(200);
    const notes = (read.body as { data: { notes: string } }).data.notes;
    expect(notes.length).toBeGreaterThanOrEqual(300 * 1024);
    expect(notes.startsWith('sku-0001 qty 1 price 9.99 | sku-0001')).toBe(true);
  });

  it('answers 500 naming the path for a value JSON cannot keep, and writes nothing', async () => {
    const app = koaApp({ store, secrets: [SECRET] });
    app.silent = true;
    const seen: Error[] = [];
    app.on('error', (e: Error) => seen.push(e));
    const agent = request.agent(app.callback());
    const value = sessionCookieValue((await agent.post('/set/a/1').expect(200)).headers)!;
    await agent.post('/bigint').expect(500);
    expect(seen.at(-1)?.message).toMatch(/attribute n\.big cannot be stored: a bigint/);
    expect(Object.keys((await getItem(tableName, keyOf(value)))?.['data'] as object)).toEqual(['a']);
  });
});
