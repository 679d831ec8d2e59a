import { getItem } from '../support/dynamodb';
import { keyOf, sessionCookieValue } from '../support/cookies';
import { EARLIER_MIDDLEWARE_HEADER } from '../support/koa-app';
import { storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';
import { quietLogger } from '../support/quiet-logger';
import { rawRequest, RawResponse } from '../support/raw-http';
import { SECRET } from '../support/secrets';
import { AnyAppKind, serveApp, ServedApp } from '../support/served-app';

/**
 * A commit that fails must not let the handler's answer out: the 503 carries
 * Retry-After and no-store, and none of the headers the handler, a guard or an
 * exception filter set for the answer that was not sent.
 */
const KINDS: ReadonlyArray<[AnyAppKind, { keepsEarlierHeaders: boolean }]> = [
  ['koa', { keepsEarlierHeaders: false }], // Koa's own error handler drops every header but err.headers
  ['koa-own-errors', { keepsEarlierHeaders: true }],
  ['nest-express', { keepsEarlierHeaders: true }],
  ['nest-fastify', { keepsEarlierHeaders: true }],
];

const SCENARIOS = [
  // Nest: the interceptor's commit fails; the handler set headers on the Node response and through the platform's response.
  { name: 'a handler that sets Location, a cookie and Cache-Control itself', method: 'POST', path: '/handler-headers/changed' },
  // Nest: @Header() headers are on the response before the interceptor runs; @Redirect() comes after it.
  { name: 'a handler that redirects (Nest: @Header and @Redirect)', method: 'POST', path: '/decorated/changed' },
  // Nest: the guard throws and a route filter answers; the commit fails in the response hook (res.end on Express, onSend on Fastify).
  { name: 'a guard that changes the session and ends the request (Nest: its exception filter redirects)', method: 'GET', path: '/login-required' },
] as const;

function expectClean503(res: RawResponse, keepsEarlierHeaders: boolean): void {
  expect(res.status).toBe(503);
  // What app-wide middleware set before the session (here a CORS header) is not the handler's, and stays.
  const [early, value] = EARLIER_MIDDLEWARE_HEADER;
  expect(res.headers[early.toLowerCase()]).toBe(keepsEarlierHeaders ? value : undefined);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['location']).toBeUndefined();
  expect(res.setCookies).toEqual([]);
}

describe.each(KINDS)('%s: a commit that fails answers a clean 503', (kind, { keepsEarlierHeaders }) => {
  let behind: StoreBehindProxy;
  let app: ServedApp;

  beforeAll(async () => {
    behind = await storeBehindProxy({}, 3);
    app = await serveApp(kind, { store: behind.store, secrets: [SECRET], logger: quietLogger });
  });
  afterAll(async () => {
    await app.close();
    await behind.close();
  });
  afterEach(() => behind.proxy.set({}));

  const throttleWrites = (): void => behind.proxy.set({ throttle: 1, operations: ['UpdateItem'] });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s, for a new session', async (_, scenario) => {
    throttleWrites();
    expectClean503(await rawRequest(app.url, scenario.method, scenario.path), keepsEarlierHeaders);
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s, for a stored session, which stays as it was', async (_, scenario) => {
    const sid = sessionCookieValue((await rawRequest(app.url, 'POST', '/set/value/stored')).headers)!;
    throttleWrites();
    expectClean503(await rawRequest(app.url, scenario.method, scenario.path, [['Cookie', `sid=${sid}`]]), keepsEarlierHeaders);
    behind.proxy.set({});
    expect((await getItem(behind.tableName, keyOf(sid)))?.['data']).toEqual({ value: '"stored"' });
  });

  it('the same requests answer with the handler\'s headers when the store works', async () => {
    const handled = await rawRequest(app.url, 'POST', '/handler-headers/changed');
    expect(handled.headers['location']).toBe('/next');
    expect(handled.setCookies).toEqual(expect.arrayContaining(['theme=dark; Path=/', expect.stringMatching(/^sid=/)]));
    const redirected = await rawRequest(app.url, 'POST', '/decorated/changed');
    expect([redirected.status, redirected.headers['location']]).toEqual([303, '/next']);
    const guarded = await rawRequest(app.url, 'GET', '/login-required');
    expect([guarded.status, guarded.headers['location']]).toEqual([302, '/login']);
    expect(guarded.setCookies).toEqual(expect.arrayContaining(['theme=dark; Path=/', expect.stringMatching(/^sid=/)]));
  });
});
