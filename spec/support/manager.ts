import { MemoryStore, SessionManager, SessionOptions, SessionStore } from '../../lib';
import type { RequestInfo } from '../../lib';
import { SECRET } from './secrets';

/** A manager with a controllable clock, plus a way to replay the cookie it issued, as a browser would. */
export function testManager(options: Partial<SessionOptions> = {}, store: SessionStore = new MemoryStore()) {
  const clock = { now: Date.UTC(2030, 0, 1) };
  const manager = new SessionManager({ store, secrets: [SECRET], now: () => clock.now, ...options });
  let cookie: string | undefined;
  function request(extra: Partial<RequestInfo> = {}) {
    const headers = { ...(cookie ? { cookie: `sid=${cookie}` } : {}), ...extra.headers };
    return manager.createContext({ method: 'GET', path: '/', secure: false, ...extra, headers });
  }
  /** Runs one request: the handler gets the session, then the commit's Set-Cookie is kept. */
  async function run(handler: (s: Awaited<ReturnType<ReturnType<typeof request>['load']>>) => void | Promise<void>, extra: Partial<RequestInfo> = {}) {
    const ctx = request(extra);
    await handler(await ctx.load());
    const result = await ctx.commit();
    for (const [name, value] of result.headers) {
      if (name === 'Set-Cookie') cookie = /^sid=([^;]*)/.exec(value)![1] || undefined;
    }
    return result;
  }
  return { manager, store, clock, request, run, cookie: () => cookie, setCookie: (v: string | undefined) => (cookie = v) };
}

/**
 * The login/AJAX race: a login request loads the session, an AJAX request on
 * the same cookie stores `cart = ['book']` and is acknowledged, then the login
 * calls regenerate() and sets `user`. Returns the login's context, still to commit.
 */
export async function loginRace(t: ReturnType<typeof testManager>) {
  await t.run((s) => void (s['visits'] = 1));
  const login = t.request();
  const s = await login.load();
  await t.run((ajax) => void (ajax['cart'] = ['book']));
  s.regenerate();
  s['user'] = 'ada';
  return login;
}
