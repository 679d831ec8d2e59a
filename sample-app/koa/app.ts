import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { session } from 'dynamo-session/koa';
import type { SessionStore } from 'dynamo-session';
import { samplePage } from '../page';

interface CartItem {
  readonly name: string;
  readonly qty: number;
}

/** The Koa sample: login, a cart, a page-view counter and logout, as a page plus a JSON API. */
export function createKoaSample(store: SessionStore, secrets: string[]): Koa {
  const app = new Koa();
  const router = new Router();
  app.use(bodyParser());
  app.use(session({ store, secrets, ignoreUris: ['/health'] }));

  router.get('/health', (ctx) => {
    ctx.body = { ok: true };
  });
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = samplePage('Koa').replace(' <button id="logout-everywhere">Sign out everywhere</button>', ''); // the Nest sample shows it
  });
  router.get('/api/me', async (ctx) => {
    const s = await ctx.session;
    s['views'] = ((s['views'] as number | undefined) ?? 0) + 1;
    ctx.body = { user: s['user'] ?? null, cart: s['cart'] ?? [], views: s['views'] };
  });
  router.post('/api/login', async (ctx) => {
    const name = String((ctx.request.body as { name?: unknown })?.name ?? '').trim();
    if (!name) ctx.throw(400, 'name is required');
    const s = await ctx.session;
    s.regenerate(); // a new id at login defeats session fixation
    s['user'] = { name };
    ctx.body = { user: s['user'] };
  });
  router.post('/api/cart', async (ctx) => {
    const item = String((ctx.request.body as { item?: unknown })?.item ?? '').trim();
    if (!item) ctx.throw(400, 'item is required');
    const s = await ctx.session;
    const cart = (s['cart'] as CartItem[] | undefined) ?? [];
    const existing = cart.find((i) => i.name === item);
    s['cart'] = existing ? cart.map((i) => (i === existing ? { ...i, qty: i.qty + 1 } : i)) : [...cart, { name: item, qty: 1 }];
    ctx.body = { cart: s['cart'] };
  });
  router.post('/api/logout', async (ctx) => {
    (await ctx.session).destroy();
    ctx.body = { ok: true };
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
