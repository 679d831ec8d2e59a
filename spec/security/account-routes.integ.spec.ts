import { expect } from '@jest/globals';
import { MemoryStore, SessionNotFoundError, SessionReauthenticationRequiredError, SessionStoreUnavailableError } from '../../lib';
import { FaultyStore } from '../support/faulty-store';
import { quietLogger } from '../support/quiet-logger';
import type { OtherSession } from '../../lib';
import { dropTable, storeOnNewTable } from '../support/dynamodb';
import { keyOf, sessionCookieValue } from '../support/cookies';
import { SECRET } from '../support/secrets';
import { APP_KINDS, serveApp, ServedApp } from '../support/served-app';
import type { DynamoDbStore } from '../../lib';

/**
 * Account controls through real apps: Koa, and Nest on Express and Fastify (spec/support/koa-app.ts and
 * nest-app.ts serve the same /account routes; /account/email is behind requireFreshAuth(1) / @RequireFreshAuth(1)).
 */
describe.each(APP_KINDS)('account controls through %s', (kind) => {
  let tableName: string;
  let store: DynamoDbStore;
  let app: ServedApp;
  const clock = { now: Date.UTC(2030, 0, 1) };
  beforeAll(async () => {
    ({ store, tableName } = await storeOnNewTable());
    app = await serveApp(kind, { store, secrets: [SECRET], now: () => clock.now, recordClientInfo: true }, { trustProxy: true });
  });
  afterAll(async () => {
    await app.close();
    await dropTable(tableName);
  });

  /** One browser: keeps the cookie the app last set. */
  function browser(userAgent: string, ip: string) {
    let cookie: string | undefined;
    return {
      get cookie() {
        return cookie;
      },
      async send(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}) {
        const res = await fetch(`${app.url}${path}`, {
          method,
          headers: { 'user-agent': userAgent, 'x-forwarded-for': ip, ...(cookie && { cookie: `sid=${cookie}` }), ...headers },
        });
        const set = sessionCookieValue(Object.fromEntries([['set-cookie', res.headers.getSetCookie()]]));
        if (set !== undefined) cookie = set || undefined;
        const text = await res.text();
        // Nest answers a POST with 201, Koa with 200: both are the handler's success.
        return { status: res.ok ? 'ok' : res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
      },
    };
  }

  it('step-up: a fresh login passes requireFreshAuth(1), two seconds later it is a 401 before the handler, and a new login passes again', async () => {
    const ada = browser('Laptop/1.0', '198.51.100.1');
    expect((await ada.send('POST', '/account/email', { 'x-email': 'a@example.com' })).status).toBe(401); // no user at all
    expect((await ada.send('POST', '/account/login/ada')).json()).toEqual({ authAge: 0 });
    expect(await ada.send('POST', '/account/email', { 'x-email': 'a@example.com' })).toMatchObject({ status: 'ok', text: 'changed' });

    clock.now += 2000;
    app.errors.length = 0;
    const refused = await ada.send('POST', '/account/email', { 'x-email': 'mallory@example.com' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    expect(refused.text).toContain('This action needs a login within the last 1 s; the last one was 2 s ago.');
    expect(refused.text).not.toContain('mallory');
    expect(app.errors).toEqual([expect.any(SessionReauthenticationRequiredError)]);
    expect((await ada.send('GET', '/account/whoami')).json()).toMatchObject({ principal: 'ada', authAge: 2 });
    const stored = await store.get(keyOf(ada.cookie!));
    expect(stored?.data['email']).toBe('"a@example.com"'); // the refused handler never ran

    await ada.send('POST', '/account/login/ada');
    expect((await ada.send('POST', '/account/email', { 'x-email': 'b@example.com' })).status).toBe('ok');
  });

  it('"your devices": each device lists the others with their client, signs one out (its next request is logged out), a foreign handle is a 404', async () => {
    const laptop = browser('Laptop/2.0', '198.51.100.2');
    const phone = browser('Phone/2.0', '198.51.100.3');
    const mallory = browser('Evil/1.0', '203.0.113.66');
    await laptop.send('POST', '/account/login/grace');
    clock.now += 1000;
    await phone.send('POST', '/account/login/grace');
    await mallory.send('POST', '/account/login/mallory');

    const listed = (await laptop.send('GET', '/account/devices')).json() as OtherSession[];
    expect(listed).toEqual([{
      handle: keyOf(phone.cookie!), createdAt: clock.now, lastAccessedAt: clock.now, expiresAt: expect.any(Number) as unknown as number,
      userAgent: 'Phone/2.0', ip: '198.51.100.3', // the address the platform resolved under its trust-proxy setting
    }]);

    app.errors.length = 0;
    const foreign = await laptop.send('POST', `/account/sign-out/${keyOf(mallory.cookie!)}`);
    expect(foreign.status).toBe(404);
    expect(app.errors).toEqual([expect.any(SessionNotFoundError)]);
    expect((await mallory.send('GET', '/account/whoami')).json()).toMatchObject({ principal: 'mallory' });

    expect((await laptop.send('POST', `/account/sign-out/${listed[0]!.handle}`)).status).toBe('ok');
    expect((await phone.send('GET', '/account/whoami')).json()).toEqual({ principal: null, authAge: null, authenticatedAt: null });
    expect((await laptop.send('GET', '/account/devices')).json()).toEqual([]);

    const tablet = browser('Tablet/1.0', '198.51.100.4');
    await tablet.send('POST', '/account/login/grace');
    await phone.send('POST', '/account/login/grace');
    expect(((await laptop.send('GET', '/account/devices')).json() as OtherSession[]).map((d) => d.userAgent).sort()).toEqual(['Phone/2.0', 'Tablet/1.0']);
    await laptop.send('POST', '/account/sign-out-others');
    for (const gone of [tablet, phone]) expect((await gone.send('GET', '/account/whoami')).json()).toMatchObject({ principal: null });
    expect((await laptop.send('GET', '/account/whoami')).json()).toMatchObject({ principal: 'grace' });
  });
});

describe.each(APP_KINDS)('step-up through %s while the store fails', (kind) => {
  it("answers the store's 503 with Retry-After and no-store, never a 401 or the handler's answer", async () => {
    const store = new FaultyStore(new MemoryStore());
    const app = await serveApp(kind, { store, secrets: [SECRET], logger: quietLogger });
    try {
      const login = await fetch(`${app.url}/account/login/ada`, { method: 'POST' });
      const cookie = sessionCookieValue(Object.fromEntries([['set-cookie', login.headers.getSetCookie()]]))!;
      store.inject(['timeout']);
      app.errors.length = 0;
      const res = await fetch(`${app.url}/account/email`, { method: 'POST', headers: { cookie: `sid=${cookie}`, 'x-email': 'a@example.com' } });
      expect([res.status, res.headers.get('retry-after'), res.headers.get('cache-control')]).toEqual([503, '1', 'no-store']);
      expect(await res.text()).not.toContain('changed');
      expect(app.errors).toEqual([expect.any(SessionStoreUnavailableError)]);
    } finally {
      await app.close();
    }
  });
});
