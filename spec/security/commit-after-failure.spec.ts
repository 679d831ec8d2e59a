import { MemoryStore } from '../../lib';
import type { Logger } from '../../lib';
import { sessionCookieValue } from '../support/cookies';
import { FaultyStore } from '../support/faulty-store';
import { rawRequest } from '../support/raw-http';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';

/**
 * A handler that throws after changing the session: the state it left is
 * saved, and its own error stays the answer even when that save fails too
 * (the save's error is logged, naming the method but not the path, which may
 * carry a token). One helper in core does this for Koa and for Nest.
 */
const HANDLER_STATUS = { koa: 422, 'nest-express': 400, 'nest-fastify': 400 } as const;

describe.each(APP_KINDS)('%s: commit after the handler failed', (kind) => {
  let store: FaultyStore;
  let app: ServedApp;
  const logged: Array<{ message: string; meta: unknown[] }> = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, ...meta) => void logged.push({ message, meta }) };

  beforeAll(async () => {
    store = new FaultyStore(new MemoryStore());
    app = await serveApp(kind, { store, secrets: [SECRET], logger });
  });
  afterAll(() => app.close());
  beforeEach(() => {
    logged.length = 0;
    store.inject([]);
    store.takeCalls();
  });

  it('saves the state the handler left and keeps its error as the answer', async () => {
    const res = await rawRequest(app.url, 'POST', '/fail-after-set');
    expect(res.status).toBe(HANDLER_STATUS[kind]);
    const cookie = sessionCookieValue({ 'set-cookie': res.setCookies });
    expect(cookie).toBeDefined();
    const read = await rawRequest(app.url, 'GET', '/read', [['Cookie', `sid=${cookie}`]]);
    expect(JSON.parse(read.body)).toMatchObject({ data: { beforeFailure: true } });
    expect(logged).toEqual([]);
  });

  it('when that save fails too, answers the handler’s error, sets no cookie, and logs the save’s error once', async () => {
    store.inject(['throttle']); // a new session: its first store call is the create at commit
    const res = await rawRequest(app.url, 'POST', '/fail-after-set');
    expect(res.status).toBe(HANDLER_STATUS[kind]);
    expect(res.setCookies).toEqual([]);
    expect(store.takeCalls().map((c) => [c.operation, c.fault])).toEqual([['create', 'throttle']]);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.message).toBe('session commit failed after the handler failed (POST)');
    expect(logged[0]!.meta[0]).toMatchObject({ name: 'SessionStoreUnavailableError' });
  });
});
