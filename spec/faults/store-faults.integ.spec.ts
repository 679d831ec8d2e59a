import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { DynamoDbStore, SessionStoreUnavailableError } from '../../lib';
import { createTableInput } from '../../lib/store/dynamodb/table-bootstrap';
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { dropTable, endpoint, getItem, READ_CALL, LAYOUT } from '../support/dynamodb';
import { keyOf, sessionCookieValue } from '../support/cookies';
import { FaultProxy, storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';
import { quietLogger } from '../support/quiet-logger';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';

/** One browser: keeps the session cookie it was given, as a browser would. */
class Client {
  cookie: string | undefined;
  constructor(private readonly url: string) {}

  async post(path: string): Promise<Response> {
    const res = await fetch(`${this.url}${path}`, { method: 'POST', headers: this.cookie ? { cookie: `sid=${this.cookie}` } : {} });
    await res.arrayBuffer();
    const issued = sessionCookieValue({ 'set-cookie': res.headers.getSetCookie() });
    if (issued !== undefined) this.cookie = issued || undefined;
    return res;
  }
}

interface Ack {
  cookie: string;
  name: string;
  value: string;
}

interface Run {
  acks: Ack[];
  failures: Response[];
  others: Response[];
}

/** `clients` browsers in parallel, each sending `perClient` writes of its own attributes one after another. */
async function writeRun(url: string, clients: number, perClient: number, tag: string): Promise<Run> {
  const run: Run = { acks: [], failures: [], others: [] };
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = new Client(url);
      for (let i = 0; i < perClient; i++) {
        const name = `${tag}${c}_${i}`;
        const res = await client.post(`/set/${name}/${i}`);
        if (res.status >= 200 && res.status < 300) run.acks.push({ cookie: client.cookie!, name, value: String(i) });
        else if (res.status === 503) run.failures.push(res);
        else run.others.push(res);
      }
    }),
  );
  return run;
}

/** Acknowledged writes that are not in the table. */
async function lostWrites(tableName: string, acks: readonly Ack[]): Promise<Ack[]> {
  const items = new Map<string, Record<string, unknown> | undefined>();
  for (const ack of acks) if (!items.has(ack.cookie)) items.set(ack.cookie, await getItem(tableName, keyOf(ack.cookie)));
  return acks.filter((ack) => (items.get(ack.cookie)?.['data'] as Record<string, string> | undefined)?.[ack.name] !== JSON.stringify(ack.value));
}

function expectTypedUnavailable(app: ServedApp, failures: readonly Response[]): void {
  for (const res of failures) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  for (const res of failures) expect(res.headers.getSetCookie()).toEqual([]);
  const sessionErrors = app.errors.filter((e) => e instanceof SessionStoreUnavailableError);
  expect(sessionErrors).toHaveLength(app.errors.length); // nothing but the typed error
  expect(sessionErrors).toHaveLength(failures.length);
}

describe.each(APP_KINDS)('%s: DynamoDB faults (fault-injecting proxy in front of DynamoDB Local)', (kind) => {
  let behind: StoreBehindProxy;
  let proxy: FaultProxy;
  let store: DynamoDbStore;
  let tableName: string;
  let app: ServedApp;

  beforeEach(async () => {
    behind = await storeBehindProxy({}, 7);
    ({ proxy, store, tableName } = behind);
    app = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger });
  });
  afterEach(async () => {
    await app.close();
    await behind.close();
  });

  it('with 20% of calls throttled, 500 writes: every 200 is stored, every failure is a typed 503', async () => {
    proxy.set({ throttle: 0.2 });
    const run = await writeRun(app.url, 25, 20, 'k');
    proxy.set({});
    expect(proxy.injected.throttle).toBeGreaterThan(100);
    expect(run.others.map((r) => r.status)).toEqual([]);
    expect(run.acks.length + run.failures.length).toBe(500);
    expect(run.acks.length).toBeGreaterThan(400); // the SDK's retries absorb most throttling
    expect(await lostWrites(tableName, run.acks)).toEqual([]);
    expectTypedUnavailable(app, run.failures);
  });

  it('with 5xx answers, cut connections (before and after DynamoDB applied the write) and latency: no 200 unstored, no other status', async () => {
    proxy.set({ serverError: 0.1, dropBefore: 0.05, dropAfter: 0.1, latencyMs: 5 });
    const run = await writeRun(app.url, 10, 20, 'm');
    proxy.set({});
    expect(proxy.injected.dropAfter).toBeGreaterThan(10);
    expect(run.others.map((r) => r.status)).toEqual([]);
    expect(run.acks.length + run.failures.length).toBe(200);
    expect(await lostWrites(tableName, run.acks)).toEqual([]);
    expectTypedUnavailable(app, run.failures);
  });

  it('every write throttled past the retries: 503 with Retry-After, no cookie, nothing stored, the stored session unchanged', async () => {
    const client = new Client(app.url);
    expect((await client.post("/set/a/1")).ok).toBe(true);
    proxy.set({ throttle: 1, operations: ['UpdateItem'] });
    const res = await client.post('/set/a/2');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2'); // throttling asks for a longer pause than a timeout
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(proxy.injected.throttle).toBe(3); // maxAttempts: the SDK tried three times
    expect((await getItem(tableName, keyOf(client.cookie!)))?.['data']).toEqual({ a: '"1"' });
    expect(app.errors).toEqual([expect.any(SessionStoreUnavailableError)]);
    expect((app.errors[0] as SessionStoreUnavailableError).throttled).toBe(true);
  });

  it("onStoreError 'continue-without-session': reads go on with an empty session and no cookie; a write still fails 503", async () => {
    const lenient = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger, onStoreError: 'continue-without-session' });
    try {
      const client = new Client(lenient.url);
      expect((await client.post('/set/a/1')).ok).toBe(true);
      const cookie = client.cookie!;
      proxy.set({ throttle: 1, operations: [READ_CALL] });
      const read = await fetch(`${lenient.url}/read`, { headers: { cookie: `sid=${cookie}` } });
      expect(read.status).toBe(200);
      expect(await read.json()).toEqual({ isNew: true, data: {} });
      expect(read.headers.getSetCookie()).toEqual([]);
      const write = await client.post('/set/b/2');
      expect(write.status).toBe(503);
      expect(write.headers.getSetCookie()).toEqual([]);
      // A logout or a login cannot be made without the read either: 503, never a 2xx for a session that stays valid.
      for (const path of ['/logout', '/login/ada']) {
        const change = await client.post(path);
        expect(change.status).toBe(503);
        expect(change.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(change.headers.getSetCookie()).toEqual([]);
      }
      proxy.set({});
      expect((await getItem(tableName, keyOf(cookie)))?.['data']).toEqual({ a: '"1"' });
      const after = await fetch(`${lenient.url}/read`, { headers: { cookie: `sid=${cookie}` } });
      expect(await after.json()).toEqual({ isNew: false, data: { a: '1' } });
    } finally {
      await lenient.close();
    }
  });

  it('with the table deleted mid-run, requests fail with 503 and the same process serves again once the table is back', async () => {
    const statuses: number[][] = [[], [], []];
    let phase = 0;
    let stop = false;
    const traffic = Promise.all(
      Array.from({ length: 3 }, async (_, c) => {
        const client = new Client(app.url);
        for (let i = 0; !stop; i++) {
          const res = await client.post(`/set/t${c}/${i}`);
          statuses[phase]!.push(res.ok ? 200 : res.status); // any 2xx (Nest answers POST with 201), in the phase it ended in
        }
      }),
    );
    const raw = new DynamoDBClient({ endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      await until(() => statuses[0]!.length >= 20);
      phase = 1; // before the drop: a request that ends in phase 0 certainly ran with the table there
      await dropTable(tableName);
      await until(() => statuses[1]!.length >= 20);
      phase = 2; // before the table exists again: every phase-1 request ended without it
      await raw.send(new CreateTableCommand(createTableInput({ tableName, billing: { mode: 'PAY_PER_REQUEST' }, layout: LAYOUT })));
      await waitUntilTableExists({ client: raw, maxWaitTime: 30 }, { TableName: tableName });
      await until(() => statuses[2]!.filter((s) => s === 200).length >= 20);
    } finally {
      stop = true;
      await traffic;
      raw.destroy();
    }
    expect(new Set(statuses[0])).toEqual(new Set([200]));
    expect(statuses[1]!.filter((s) => s !== 200 && s !== 503)).toEqual([]); // in flight at the drop: either
    expect(statuses[1]!.slice(-10)).toEqual(Array(10).fill(503));
    expect(statuses[2]!.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses[2]!.slice(-10)).toEqual(Array(10).fill(200));
    expect(app.errors.every((e) => e instanceof SessionStoreUnavailableError)).toBe(true);
  });
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('DynamoDbStore deadlines (fault-injecting proxy)', () => {
  it('a call slower than readTimeout is abandoned at its deadline, retries included, with a typed error', async () => {
    const { proxy, store, close } = await storeBehindProxy({ readTimeout: 300 });
    try {
      proxy.set({ latencyMs: 2000 });
      const started = Date.now();
      const error = await store.get('k').catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(SessionStoreUnavailableError);
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(1000); // the 2 s answer was not waited for
      proxy.set({});
      expect(await store.get('k')).toBeUndefined(); // the next call has a deadline of its own
    } finally {
      await close();
    }
  });

  it('requestTimeout bounds each attempt, so the SDK retries a hung attempt within the deadline', async () => {
    const { proxy, store, close } = await storeBehindProxy({ readTimeout: 5000, requestTimeout: 150, maxAttempts: 3 });
    try {
      proxy.set({ latencyMs: 1000, operations: [READ_CALL] });
      const before = proxy.calls[READ_CALL] ?? 0;
      const started = Date.now();
      await expect(store.get('k')).rejects.toThrow(SessionStoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2500); // three 150 ms attempts and backoff, not 3 x 1 s nor the 5 s deadline
      expect((proxy.calls[READ_CALL] ?? 0) - before).toBe(3);
    } finally {
      await close();
    }
  });
});
