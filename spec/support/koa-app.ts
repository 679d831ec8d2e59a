import { randomBytes } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { requireFreshAuth, session } from '../../lib/koa';
import type { SessionOptions } from '../../lib';

/** The headers a handler, guard or filter adds for its own answer (besides a Location): none may survive a failed commit. */
export const HANDLER_HEADERS = [
  ['Set-Cookie', 'theme=dark; Path=/'],
  ['Cache-Control', 'public, max-age=600'],
] as const;

/** Set by app-wide middleware that runs before the session (CORS, helmet): not the handler's, so an error answer may keep it. */
export const EARLIER_MIDDLEWARE_HEADER = ['Access-Control-Allow-Origin', '*'] as const;

function setHandlerHeaders(ctx: Koa.Context): void {
  for (const [name, value] of HANDLER_HEADERS) ctx.set(name, value);
}

/**
 * The error middleware many Koa apps put first: it renders errors itself, so
 * Koa's own handler (which drops every header but `err.headers`) never runs.
 */
async function renderErrors(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    ctx.status = typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
    ctx.body = { error: ctx.status };
    ctx.app.emit('error', error, ctx);
  }
}

/**
 * A real Koa app with routes that exercise each part of the session lifecycle.
 * Every route says in its name what it does to the session.
 */
export function koaApp(options: SessionOptions, platform: { ownErrorMiddleware?: boolean } = {}): Koa {
  const app = new Koa();
  const router = new Router();
  const mw = session(options);
  if (platform.ownErrorMiddleware) app.use(renderErrors);
  app.use(async (ctx, next) => {
    ctx.set(...EARLIER_MIDDLEWARE_HEADER);
    await next();
  });
  app.use(mw);

  // Account controls: the same routes as the Nest test controller's.
  router.post('/account/login/:user', async (ctx) => {
    const s = await ctx.session;
    s.login(ctx.params['user']!);
    ctx.body = { authAge: s.authAge() };
  });
  router.get('/account/whoami', async (ctx) => {
    const s = await ctx.session;
    ctx.body = { principal: s.principal ?? null, authAge: s.authAge() ?? null, authenticatedAt: s.authenticatedAt ?? null };
  });
  router.get('/account/devices', async (ctx) => {
    ctx.body = await (await ctx.session).otherSessions();
  });
  router.post('/account/sign-out/:handle', async (ctx) => {
    (await ctx.session).destroyOther(ctx.params['handle']!);
    ctx.body = 'ok';
  });
  router.post('/account/sign-out-others', async (ctx) => {
    (await ctx.session).destroyOthers();
    ctx.body = 'ok';
  });
  router.post('/account/email', requireFreshAuth(1), async (ctx) => {
    (await ctx.session)['email'] = ctx.get('x-email');
    ctx.body = 'changed';
  });
  router.get('/none', (ctx) => {
    ctx.body = 'no session here';
  });
  router.get('/read', async (ctx) => {
    const s = await ctx.session;
    ctx.body = { isNew: s.isNew, data: { ...s } };
  });
  router.get('/health', async (ctx) => {
    const s = await ctx.session;
    s['healthChecks'] = ((s['healthChecks'] as number) ?? 0) + 1;
    ctx.body = 'ok';
  });
  router.post('/set/:name/:value', async (ctx) => {
    const s = await ctx.session;
    s[ctx.params['name']!] = ctx.params['value'];
    ctx.body = { data: { ...s } };
  });
  router.post('/json/:name', async (ctx) => {
    const s = await ctx.session;
    s[ctx.params['name']!] = JSON.parse(ctx.get('x-json'));
    ctx.body = 'ok';
  });
  router.post('/cart', async (ctx) => {
    const s = await ctx.session;
    const cart = (s['cart'] as { items: string[] } | undefined) ?? { items: [] };
    cart.items.push(ctx.get('x-item'));
    s['cart'] = cart;
    ctx.body = cart;
  });
  router.post('/cart-in-place', async (ctx) => {
    const s = await ctx.session;
    (s['cart'] as { items: string[] }).items.push(ctx.get('x-item')); // nested mutation, no reassignment
    ctx.body = 'ok';
  });
  router.delete('/attr/:name', async (ctx) => {
    const s = await ctx.session;
    delete s[ctx.params['name']!];
    ctx.body = 'ok';
  });
  router.post('/login/:user', async (ctx) => {
    const s = await ctx.session;
    s.regenerate();
    s['user'] = ctx.params['user'];
    ctx.body = 'ok';
  });
  router.post('/logout', async (ctx) => {
    (await ctx.session).destroy();
    ctx.body = 'bye';
  });
  // A logout that never reads the session: it ends even a session no load can decode.
  router.post('/logout-unread', (ctx) => {
    ctx.sessionContext.destroy();
    ctx.body = 'bye';
  });
  // A logout that tries the load first, and ends the session whether or not it could be read.
  router.post('/logout-after-load', async (ctx) => {
    await ctx.session.catch(() => undefined);
    ctx.sessionContext.destroy();
    ctx.body = 'bye';
  });
  router.post('/touch', async (ctx) => {
    (await ctx.session).touch();
    ctx.body = 'ok';
  });
  router.post('/fail-after-set', async (ctx) => {
    const s = await ctx.session;
    s['beforeFailure'] = true;
    ctx.throw(422, 'handler failed');
  });
  router.post('/big/:name/:kb', async (ctx) => {
    (await ctx.session)[ctx.params['name']!] = randomBytes(Number(ctx.params['kb']) * 768).toString('base64'); // kb KB of text gzip cannot shrink much
    ctx.body = 'ok';
  });
  // Loads, waits (so concurrent requests all load before any commits), then sets kb KB of random text.
  router.post('/slow-big/:name/:kb', async (ctx) => {
    const s = await ctx.session;
    await new Promise((resolve) => setTimeout(resolve, Number(ctx.query['ms'] ?? 200)));
    s[ctx.params['name']!] = randomBytes(Number(ctx.params['kb']) * 768).toString('base64');
    ctx.body = 'ok';
  });
  router.post('/compressible/:name/:kb', async (ctx) => {
    const line = 'sku-0001 qty 1 price 9.99 | ';
    (await ctx.session)[ctx.params['name']!] = line.repeat(Math.ceil((Number(ctx.params['kb']) * 1024) / line.length));
    ctx.body = 'ok';
  });
  router.post('/bigint', async (ctx) => {
    (await ctx.session)['n'] = { big: 10n };
    ctx.body = 'ok';
  });
  router.post('/slow-set/:name/:value', async (ctx) => {
    const s = await ctx.session;
    await new Promise((resolve) => setTimeout(resolve, Number(ctx.query['ms'] ?? 200)));
    s[ctx.params['name']!] = ctx.params['value'];
    ctx.body = 'ok';
  });
  router.post('/handler-headers/:value', async (ctx) => {
    (await ctx.session)['value'] = ctx.params['value'];
    ctx.set('Location', '/next');
    setHandlerHeaders(ctx);
    ctx.body = 'ok';
  });
  router.post('/decorated/:value', async (ctx) => {
    (await ctx.session)['value'] = ctx.params['value'];
    setHandlerHeaders(ctx);
    ctx.status = 303;
    ctx.redirect('/next');
  });
  // A guard: counts the visit, then answers the request itself instead of passing it on.
  const loginRequired: Koa.Middleware = async (ctx) => {
    const s = await ctx.session;
    s['visits'] = ((s['visits'] as number | undefined) ?? 0) + 1;
    setHandlerHeaders(ctx);
    ctx.redirect('/login');
  };
  router.get('/login-required', loginRequired, (ctx) => {
    ctx.body = 'unreachable';
  });
  router.get('/id', async (ctx) => {
    ctx.body = (await ctx.session).id;
  });

  app.use(router.routes());
  return app;
}
