import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { createKoaSample } from '../../sample-app/koa/app';
import { createNestSample } from '../../sample-app/nest/create-app';
import { DynamoDbCall, recordDynamoDbCalls } from '../../sample-app/dynamodb-calls';
import { CallLog, dropTable, storeOnNewTable } from '../support/dynamodb';
import { SECRET } from '../support/secrets';

type Variant = 'koa' | 'nest-express' | 'nest-fastify';

/** A client with a cookie jar of one cookie, over real sockets (so a body larger than a TCP segment arrives in pieces). */
let requests = 0;
class Client {
  private cookie = '';
  constructor(private readonly url: string) {}

  /** One request under a fresh X-Sample-Request id; returns its status, body and the id. */
  async send(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; id: string }> {
    const id = `spec-request-${requests++}`;
    const headers: Record<string, string> = { 'x-sample-request': id, ...(this.cookie && { cookie: this.cookie }) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.url + path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const sid = res.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('sid='));
    if (sid !== undefined) this.cookie = sid === 'sid=' ? '' : sid;
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown>, id };
  }

  async callsOf(id: string): Promise<DynamoDbCall[]> {
    const res = await fetch(`${this.url}/api/calls/${id}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { calls: DynamoDbCall[] }).calls;
  }
}

describe.each<Variant>(['koa', 'nest-express', 'nest-fastify'])('the calls panel API of the %s sample, on DynamoDB Local', (variant) => {
  let tableName: string;
  let log: CallLog;
  let url: string;
  let close: () => Promise<unknown>;

  beforeAll(async () => {
    const created = await storeOnNewTable();
    ({ tableName, log } = created);
    recordDynamoDbCalls(created.store.client); // what sample-app/dynamodb-target.ts does for `npm start`
    if (variant === 'koa') {
      const handle = createKoaSample(created.store, [SECRET]).callback();
      const server: Server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () => new Promise((resolve) => server.close(resolve));
    } else {
      const app: INestApplication<Server> = await createNestSample(created.store, [SECRET], variant === 'nest-express' ? 'express' : 'fastify');
      await app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      close = () => app.close();
    }
  });
  afterAll(async () => {
    await close?.();
    await dropTable(tableName);
  });

  it('reports 0 calls for a route without the session, 1 GetItem for a read, and an UpdateItem naming only `cart` for an add', async () => {
    const client = new Client(url);
    const first = await client.send('GET', '/api/me');
    expect(first.status).toBe(200);
    expect(await client.callsOf(first.id)).toEqual([
      { operation: 'UpdateItem', writeUnits: expect.any(Number) as number, sets: ['views'], removes: [], wholeSession: true },
    ]);

    const health = await client.send('GET', '/health');
    expect(health.status).toBe(200);
    expect(await client.callsOf(health.id)).toEqual([]);

    log.clear();
    const read = await client.send('GET', '/api/cart');
    expect(read).toMatchObject({ status: 200, body: { cart: [] } });
    const readCalls = await client.callsOf(read.id);
    expect(readCalls).toEqual([{ operation: 'GetItem', readUnits: expect.any(Number) as number }]);
    expect(readCalls[0]!.readUnits).toBeGreaterThan(0);
    expect(log.calls).toEqual(['GetItem']); // what the store's client really sent, counted by the specs' own middleware

    const add = await client.send('POST', '/api/cart', { item: 'tea' });
    expect(add.status).toBeLessThan(300);
    const addCalls = await client.callsOf(add.id);
    expect(addCalls).toEqual([
      { operation: 'GetItem', readUnits: expect.any(Number) as number },
      { operation: 'UpdateItem', writeUnits: expect.any(Number) as number, sets: ['cart'], removes: [] },
    ]);
    expect(addCalls[1]!.writeUnits).toBeGreaterThan(0);
  });

  it('keeps the calls of each request apart when requests overlap, bodies arriving in pieces included', async () => {
    const clients = Array.from({ length: 6 }, () => new Client(url));
    await Promise.all(clients.map((c) => c.send('POST', '/api/login', { name: 'Ada' })));
    // 60 KB of a field the app ignores: the body takes several reads off the socket while the other requests run.
    const add = { item: 'x'.repeat(150), padding: 'y'.repeat(60_000) };
    const answers = await Promise.all(clients.map((c, i) => (i % 2 === 0 ? c.send('GET', '/health') : c.send('POST', '/api/cart', add))));
    for (const [i, answer] of answers.entries()) {
      const calls = await clients[i]!.callsOf(answer.id);
      expect(calls.map((c) => c.operation)).toEqual(i % 2 === 0 ? [] : ['GetItem', 'UpdateItem']);
      if (i % 2 === 0) continue;
      expect(calls[1]!.sets).toEqual(['cart']);
      // Both samples' login (session.login) sets a principal, for "Your devices": the item is in the principal-sessions index, and each write costs a unit there too.
      expect(calls[1]!.indexUnits).toEqual({ 'principal-sessions': expect.any(Number) as number });
      expect(calls[1]!.indexUnits!['principal-sessions']).toBeGreaterThan(0);
    }
  });

  it('lists "Your devices" with a read of the session and one Query of the principal index, and writes nothing', async () => {
    const [client, other] = [new Client(url), new Client(url)];
    await client.send('POST', '/api/login', { name: 'Devi' });
    await other.send('POST', '/api/login', { name: 'Devi' });
    const list = await client.send('GET', '/api/devices');
    expect(list.status).toBe(200);
    expect(list.body['devices']).toHaveLength(1);
    expect(await client.callsOf(list.id)).toEqual([
      { operation: 'GetItem', readUnits: expect.any(Number) as number },
      // A Query of an index: all its read units are spent there.
      { operation: 'Query', readUnits: expect.any(Number) as number, indexUnits: { 'principal-sessions': expect.any(Number) as number } },
    ]);
  });

  it('answers 404 for an id it never saw', async () => {
    const res = await fetch(`${url}/api/calls/never-sent-0123456789`);
    expect(res.status).toBe(404);
  });

  if (variant === 'koa') {
    it('refuses an item over 200 characters with 400 before reading the session', async () => {
      const client = new Client(url);
      await client.send('POST', '/api/login', { name: 'Ada' });
      const tooLong = await client.send('POST', '/api/cart', { item: 'x'.repeat(201) });
      expect(tooLong.status).toBe(400);
      expect(await client.callsOf(tooLong.id)).toEqual([]);
    });
  } else {
    it('refuses (413) a session over maxSessionBytes after the read and before any write', async () => {
      const client = new Client(url);
      await client.send('POST', '/api/login', { name: 'Ada' });
      const big = await client.send('POST', '/api/cart', { item: 'x'.repeat(70_000) });
      expect(big.status).toBe(413);
      expect(String(big.body['message'])).toContain('maxSessionBytes');
      expect((await client.callsOf(big.id)).map((c) => c.operation)).toEqual(['GetItem']);
    });
  }
});
