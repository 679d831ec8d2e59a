import type { Server } from 'node:http';
import { quietLogger } from '../support/quiet-logger';
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { nestApp, Platform, SessionModule } from '../support/nest-app';
import { CallLog, dropTable, getItem, localClient, storeOnNewTable, READ_CALL } from '../support/dynamodb';
import { sessionCookieValue, setCookies, keyOf, withOneCharacterFlipped } from '../support/cookies';
import { SECRET } from '../support/secrets';
import { DynamoDbStore, MemoryStore, SessionManager, SessionStore } from '../../lib';
import { SessionValve } from '../../lib/nest';
import { bodyOf, dataOf } from '../support/response-body';


describe.each<Platform>(['express', 'fastify'])('Nest on %s with DynamoDB Local', (platform) => {
  let store: DynamoDbStore;
  let log: CallLog;
  let tableName: string;
  let app: INestApplication<Server>;

  beforeAll(async () => {
    ({ store, log, tableName } = await storeOnNewTable());
    app = await nestApp(platform, SessionModule.forRoot({ store, secrets: [SECRET], ignoreUris: ['/health'], ignoreHeaders: ['x-no-session'] }));
  });
  afterAll(async () => {
    await app.close();
    await dropTable(tableName);
  });
  beforeEach(() => log.clear());

  const browser = () => request.agent(app.getHttpServer());

  describe('DynamoDB calls per request', () => {
    it('a handler without @Session() makes 0 calls, even with a session cookie', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      log.clear();
      const res = await b.get('/none').expect(200);
      expect(res.text).toBe('no session here');
      expect(log.calls).toEqual([]);
      expect(setCookies(res.headers)).toEqual([]);
    });

    it('@Session() reading only makes 1 read call', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      log.clear();
      const res = await b.get('/read').expect(200);
      expect(res.body).toEqual({ isNew: false, data: { a: '1' } });
      expect(log.calls).toEqual([READ_CALL]);
    });

    it('changing one attribute makes 1 read + 1 UpdateItem that names only that attribute', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      await b.post('/set/b/2').expect(201);
      log.clear();
      await b.post('/set/b/3').expect(201);
      expect(log.calls).toEqual([READ_CALL, 'UpdateItem']);
      const names = Object.values(log.inputs[1]!.input['ExpressionAttributeNames'] as Record<string, string>);
      expect(names.filter((n) => n === 'a' || n === 'b')).toEqual(['b']);
    });

    it('an ignored URI writes nothing even though the handler mutates the session', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      log.clear();
      const res = await b.get('/health?x=1').expect(200);
      expect(log.calls).toEqual([READ_CALL]);
      expect(setCookies(res.headers)).toEqual([]);
    });

    it('an ignored header writes nothing', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      log.clear();
      await b.post('/set/a/2').set('X-No-Session', '1').expect(201);
      expect(log.calls).toEqual([READ_CALL]);
      expect(dataOf(await b.get('/read'))).toEqual({ a: '1' });
    });

    it('a new session left empty writes nothing and sets no cookie', async () => {
      const res = await request(app.getHttpServer()).get('/read').expect(200);
      expect(res.body).toEqual({ isNew: true, data: {} });
      expect(log.calls).toEqual([]);
      expect(setCookies(res.headers)).toEqual([]);
    });
  });

  describe('commit timing and the Set-Cookie header', () => {
    it('creates the session before the response and puts a signed cookie with no-store on it', async () => {
      const res = await request(app.getHttpServer()).post('/set/a/1').expect(201);
      const value = sessionCookieValue(res.headers)!;
      expect(setCookies(res.headers)[0]).toMatch(/^sid=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect((await getItem(tableName, keyOf(value)))?.['data']).toEqual({ a: '"1"' }); // stored when the response arrived
    });

    it('saves the state a throwing handler left, with the cookie on its 400 response', async () => {
      const res = await request(app.getHttpServer()).post('/fail-after-set').expect(400);
      expect(bodyOf(res)['message']).toBe('handler failed');
      const value = sessionCookieValue(res.headers)!;
      expect((await getItem(tableName, keyOf(value)))?.['data']).toEqual({ beforeFailure: 'true' });
    });

    it('saves what a guard changed before it ended the request, with the cookie on the 403', async () => {
      const b = browser();
      await b.post('/set/a/1').expect(201);
      const res = await b.get('/guarded').expect(403);
      expect(bodyOf(res)['message']).toBe('denied by guard');
      const first = await b.get('/read');
      expect(dataOf(first)).toEqual({ a: '1', denied: 1 });
      const fresh = await request(app.getHttpServer()).get('/guarded').expect(403);
      const value = sessionCookieValue(fresh.headers)!;
      expect((await getItem(tableName, keyOf(value)))?.['data']).toEqual({ denied: '1' });
    });

    it('@Session("user") gives one attribute', async () => {
      const b = browser();
      await b.post('/set/user/ada').expect(201);
      expect((await b.get('/user')).body).toEqual({ user: 'ada' });
    });

    it('SessionValve from the container serves handlers that use @Req()', async () => {
      expect(app.get(SessionValve)).toBeInstanceOf(SessionValve);
      expect(app.get(SessionValve).manager).toBe(app.get(SessionManager));
      const b = browser();
      await b.post('/via-valve').expect(201);
      expect(dataOf(await b.get('/read'))).toEqual({ viaValve: true });
    });

    it('destroy() deletes the item and expires the cookie; regenerate() moves the data', async () => {
      const b = browser();
      const first = sessionCookieValue((await b.post('/set/cart/tea')).headers)!;
      const login = await b.post('/login/ada').expect(201);
      const second = sessionCookieValue(login.headers)!;
      expect(second).not.toBe(first);
      expect(await getItem(tableName, keyOf(first))).toBeUndefined();
      expect(dataOf(await b.get('/read'))).toEqual({ cart: 'tea', user: 'ada' });
      const out = await b.post('/logout').expect(201);
      expect(setCookies(out.headers)[0]).toMatch(/^sid=; Max-Age=0;/);
      expect(await getItem(tableName, keyOf(second))).toBeUndefined();
    });

    it('a tampered cookie gives a fresh session and costs no read', async () => {
      const value = sessionCookieValue((await request(app.getHttpServer()).post('/set/a/1')).headers)!;
      log.clear();
      const tampered = withOneCharacterFlipped(value);
      expect(tampered).not.toBe(value);
      const res = await request(app.getHttpServer()).get('/read').set('Cookie', `sid=${tampered}`).expect(200);
      expect(res.body).toEqual({ isNew: true, data: {} });
      expect(log.calls).toEqual([]);
    });

    it('refuses an oversized session with 413 and keeps the stored one', async () => {
      const b = browser();
      const value = sessionCookieValue((await b.post('/set/a/1')).headers)!;
      const res = await b.post('/big/photo/600').expect(413);
      expect(bodyOf(res)['message']).toMatch(/over DynamoDB's item limit of 409600 bytes.*Largest attributes: photo/);
      expect((await getItem(tableName, keyOf(value)))?.['data']).toMatchObject({ a: '"1"' });
    });
  });
});

describe.each<Platform>(['express', 'fastify'])('Nest on %s: sharing, DI and failures', (platform) => {
  it('two app instances on one table share sessions: write on A, read on B', async () => {
    const { store, tableName } = await storeOnNewTable();
    const other = (await storeOnNewTable({ tableName })).store;
    const a = await nestApp(platform, SessionModule.forRoot({ store, secrets: [SECRET] }));
    const b = await nestApp(platform, SessionModule.forRoot({ store: other, secrets: [SECRET] }));
    try {
      const cookie = sessionCookieValue((await request(a.getHttpServer()).post('/set/cart/tea').expect(201)).headers)!;
      const read = await request(b.getHttpServer()).get('/read').set('Cookie', `sid=${cookie}`).expect(200);
      expect(read.body).toEqual({ isNew: false, data: { cart: 'tea' } });
      await request(b.getHttpServer()).post('/set/cart/coffee').set('Cookie', `sid=${cookie}`).expect(201);
      expect(dataOf(await request(a.getHttpServer()).get('/read').set('Cookie', `sid=${cookie}`))).toEqual({ cart: 'coffee' });
    } finally {
      await Promise.all([a.close(), b.close()]);
      await dropTable(tableName);
    }
  });

  it('forRootAsync builds options from injected providers, so tests can replace the store through DI', async () => {
    const STORE = Symbol('store');
    const memory = new MemoryStore();
    const app = await nestApp(platform, SessionModule.forRootAsync({
      imports: [{ module: class StoreModule {}, providers: [{ provide: STORE, useValue: memory }], exports: [STORE], global: false }],
      useFactory: (s: SessionStore) => ({ store: s, secrets: [SECRET] }),
      inject: [STORE],
    }));
    try {
      expect(app.get(SessionValve).manager.store).toBe(memory);
      await request(app.getHttpServer()).post('/set/a/1').expect(201);
      expect(memory.size).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('a store failure answers 503 with Retry-After, no Set-Cookie, and the app is not told 2xx', async () => {
    const { store, tableName } = await storeOnNewTable();
    const app = await nestApp(platform, SessionModule.forRoot({ store, secrets: [SECRET], logger: quietLogger }));
    try {
      await dropTable(tableName);
      const res = await request(app.getHttpServer()).post('/set/a/1').expect(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(setCookies(res.headers)).toEqual([]);
      expect(res.body).toEqual({ statusCode: 503, message: 'Service Unavailable' }); // 5xx details stay in the logs
    } finally {
      await app.close();
    }
  });

  it('startup fails when the table is missing and may not be created', async () => {
    const store = new DynamoDbStore({ tableName: `missing-${Date.now()}`, createIfNotExist: false, client: localClient() }, quietLogger);
    await expect(nestApp(platform, SessionModule.forRoot({ store, secrets: [SECRET] }))).rejects.toThrow(/does not exist/);
  });
});
