import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { DynamoDbStore, DynamoDbStoreOptions, SessionManager, SessionTooLargeError } from '../../lib';
import { dropTable, endpoint, randomTableName, LAYOUT_OPTIONS } from '../support/dynamodb';
import { quietLogger } from '../support/quiet-logger';
import { SECRET } from '../support/secrets';

/**
 * Interleavings a fault proxy cannot script: another request's whole commit runs
 * inside one attempt of this request's call, by wrapping the store's HTTP handler.
 */
type Send = () => Promise<unknown>;
interface HttpRequest {
  readonly headers: Record<string, string | undefined>;
  readonly body: unknown;
}
function intercept(store: DynamoDbStore, around: (operation: string, body: string, send: Send) => Promise<unknown>): void {
  const handler = store.client.config.requestHandler as unknown as { handle(request: HttpRequest, options: unknown): Promise<unknown> };
  const original = handler.handle.bind(handler);
  handler.handle = (request: HttpRequest, options: unknown) => {
    const operation = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    return around(operation, String(request.body), () => original(request, options));
  };
}

function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

const stores: DynamoDbStore[] = [];
const tables: string[] = [];
function newStore(options: DynamoDbStoreOptions): DynamoDbStore {
  const store = new DynamoDbStore({ ...(options.expiry === 'rotation' ? {} : LAYOUT_OPTIONS), endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, ...options }, quietLogger);
  stores.push(store);
  return store;
}
afterAll(async () => {
  for (const store of stores) store.close();
  await Promise.all(tables.map((t) => dropTable(t)));
});

/** Two nodes (their own stores and clients) over one table, and a browser's cookie. */
async function twoNodes(options: Partial<ConstructorParameters<typeof SessionManager>[0]> = {}, storeOptions: DynamoDbStoreOptions = {}) {
  const tableName = randomTableName('interleave');
  tables.push(tableName);
  const [sa, sb] = [newStore({ tableName, ...storeOptions }), newStore({ tableName, ...storeOptions })];
  await Promise.all([sa.ready(), sb.ready()]);
  const manager = (store: DynamoDbStore) => new SessionManager({ store, secrets: [SECRET], logger: quietLogger, ...options });
  const [a, b] = [manager(sa), manager(sb)];
  let cookie = '';
  const request = (m: SessionManager) => m.createContext({ method: 'POST', path: '/', headers: cookie ? { cookie } : {}, secure: false });
  return {
    sa, a, b, request,
    async start(attributes: Record<string, unknown>): Promise<void> {
      const ctx = request(a);
      Object.assign(await ctx.load(), attributes);
      cookie = (await ctx.commit()).headers.find(([n]) => n === 'Set-Cookie')![1].split(';')[0]!;
    },
    async read(): Promise<Record<string, unknown>> {
      return { ...(await request(b).load()) };
    },
  };
}

describe('a write that landed is never reported as failed, whoever wrote after it', () => {
  it("'reject': the first attempt lands, its answer is lost, another request writes, the SDK's retry fails its guard: 2xx, stored", async () => {
    const t = await twoNodes({ onConflict: 'reject' });
    await t.start({ cart: 1 });
    const mine = t.request(t.a);
    const theirs = t.request(t.b);
    (await mine.load())['cart'] = 2;
    (await theirs.load())['note'] = 'x';
    let first = true;
    intercept(t.sa, async (operation, _body, send) => {
      if (operation !== 'UpdateItem' || !first) return send();
      first = false;
      await send();
      await theirs.commit();
      throw connectionReset();
    });
    await expect(mine.commit()).resolves.toBeDefined();
    expect(await t.read()).toEqual({ cart: 2, note: 'x' });
  });

  it('the read-back finds another request\'s token, but the item holds this change: 2xx, not 503', async () => {
    const t = await twoNodes({});
    await t.start({ cart: ['pen'] });
    const mine = t.request(t.a);
    const theirs = t.request(t.b);
    (await mine.load())['cart'] = ['pen', 'book'];
    (await theirs.load())['lastSeen'] = 'page-2';
    let attempt = 0;
    intercept(t.sa, async (operation, _body, send) => {
      if (operation !== 'UpdateItem') return send();
      if (attempt++ === 0) {
        await send();
        await theirs.commit();
      }
      throw connectionReset();
    });
    await expect(mine.commit()).resolves.toBeDefined();
    expect(await t.read()).toEqual({ cart: ['pen', 'book'], lastSeen: 'page-2' });
  });

  it('an attempt that never landed still fails with 503 after the read-back', async () => {
    const t = await twoNodes({});
    await t.start({ cart: ['pen'] });
    const mine = t.request(t.a);
    (await mine.load())['cart'] = ['pen', 'book'];
    intercept(t.sa, async (operation, _body, send) => (operation === 'UpdateItem' ? Promise.reject(connectionReset()) : send()));
    await expect(mine.commit()).rejects.toMatchObject({ status: 503 });
    expect(await t.read()).toEqual({ cart: ['pen'] });
  });

  it('a commit that changes more attributes than one update expression carries is a 413, not a 500', async () => {
    const t = await twoNodes({});
    await t.start({ a: 1 });
    const mine = t.request(t.a);
    const s = await mine.load();
    for (let i = 0; i < 300; i++) s[`attribute${i}`] = i;
    await expect(mine.commit()).rejects.toThrow(SessionTooLargeError);
    expect(await t.read()).toEqual({ a: 1 });
  });
});

describe('rotation: a write that moves a session forward never outlives a logout that ran meanwhile', () => {
  const PERIOD = 600;
  const start = Math.floor(Date.now() / 1000 / PERIOD) * PERIOD * 1000;

  async function rotated() {
    const clock = { now: start + 1000 };
    const base = randomTableName('rotleave');
    const options = { expiry: 'rotation', tableBaseName: base, rotationPeriod: PERIOD, now: () => clock.now } as const;
    const [sb, sd] = [newStore(options), newStore(options)];
    await Promise.all([sb.ready(), sd.ready()]);
    const manager = (store: DynamoDbStore) => new SessionManager({ store, secrets: [SECRET], logger: quietLogger, maxInactiveInterval: PERIOD, now: () => clock.now });
    const [b, d] = [manager(sb), manager(sd)];
    const first = b.createContext({ method: 'POST', path: '/', headers: {}, secure: false });
    (await first.load())['user'] = 'alice';
    const cookie = (await first.commit()).headers.find(([n]) => n === 'Set-Cookie')![1].split(';')[0]!;
    clock.now = start + PERIOD * 1000 + 10;
    await sb.rotate();
    await sd.rotate();
    tables.push(`${base}_${start / 1000}`, `${base}_${start / 1000 + PERIOD}`, `${base}_${start / 1000 + 2 * PERIOD}`);
    const request = (m: SessionManager) => m.createContext({ method: 'POST', path: '/', headers: { cookie }, secure: false });
    return { sb, b, d, request };
  }

  it.each([
    ['a logout', (s: { destroy(): void }) => s.destroy()],
    ['a login (regenerate)', (s: { regenerate(): void }) => s.regenerate()],
  ])('%s runs between the write\'s read of the previous table and its copy: the old cookie is dead afterwards', async (_name, change) => {
    const t = await rotated();
    const writer = t.request(t.b);
    const other = t.request(t.d);
    (await writer.load())['cart'] = ['book'];
    change(await other.load());
    intercept(t.sb, async (operation, body, send) => {
      if (operation === 'UpdateItem' && body.includes('attribute_not_exists')) await other.commit();
      return send();
    });
    await writer.commit().catch(() => undefined); // 409 (the session ended) is the honest answer
    const after = t.request(t.b);
    await after.load();
    expect(after.isNew).toBe(true);
  });
});
