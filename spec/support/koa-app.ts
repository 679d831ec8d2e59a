import { randomBytes } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { session } from '../../lib/koa';
import type { SessionOptions } from '../../lib';

/**
 * A real Koa app with routes that exercise each part of the session lifecycle.
 * Every route says in its name what it does to the session.
 */
export function koaApp(options: SessionOptions): Koa {
  const app = new Koa();
  const router = new Router();
  const mw = session(options);
  app.use(mw);

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
  router.get('/id', async (ctx) => {
    ctx.body = (await ctx.session).id;
  });

  app.use(router.routes());
  return app;
}
