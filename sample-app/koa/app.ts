import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { session } from 'dynamo-session/koa';
import type { SessionStore } from 'dynamo-session';
import { samplePage } from '../page';
import { CALLS_HEADER, callsResponse, withDynamoDbCallLog } from '../dynamodb-calls';

interface CartItem {
  readonly name: string;
  readonly qty: number;
}

/** Longer names and items are refused: the session is no place for megabytes of client text. */
const MAX_TEXT_LENGTH = 200;

/**
 * One text field of the JSON body: a string, or a number for items, trimmed and of bounded length.
 * Checked by type, never converted with String(): a client's object can make that throw or recurse.
 */
function textField(ctx: Koa.Context, field: 'name' | 'item', acceptNumber: boolean): string {
  const body: unknown = ctx.request.body;
  const raw = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[field] : undefined;
  const value = typeof raw === 'string' ? raw.trim() : acceptNumber && typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : '';
  if (!value) ctx.throw(400, `${field} is required: a string${acceptNumber ? ' or a number' : ''}`);
  if (value.length > MAX_TEXT_LENGTH) ctx.throw(400, `${field} is longer than ${MAX_TEXT_LENGTH} characters`);
  return value;
}

/**
 * A body the parser cannot read is the client's fault: the parser's own 4xx
 * (413 too large, 415 unknown encoding) is kept, and a body that does not
 * decompress (gzip header on plain text) is a 400, not the 500 zlib's error would give.
 */
function bodyError(error: unknown, ctx: Koa.Context): never {
  const { status, code } = error as { status?: unknown; code?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500) ctx.throw(status, 'the request body cannot be read');
  if (typeof code === 'string' && code.startsWith('Z_')) ctx.throw(400, 'the request body does not match its Content-Encoding');
  throw error;
}

/** The Koa sample: login, a cart, a page-view counter and logout, as a page plus a JSON API. */
export function createKoaSample(store: SessionStore, secrets: string[]): Koa {
  const app = new Koa();
  const router = new Router();
  // Demo aid (sample-app/dynamodb-calls.ts), first so it sees the whole request: the page's "DynamoDB calls" panel.
  app.use((ctx, next) => withDynamoDbCallLog(ctx.get(CALLS_HEADER), next));
  app.use(bodyParser({ onError: bodyError }));
  // A name and a cart take a few KB: a session far larger is a client filling it with its own text. The library
  // refuses it with a 413 before any write (the default bound, 1 MiB, is for every app; this one knows better).
  app.use(session({ store, secrets, ignoreUris: ['/health'], maxSessionBytes: 64 * 1024 }));

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
  router.get('/api/cart', async (ctx) => {
    const s = await ctx.session; // read only: nothing changes, so nothing is written
    ctx.body = { cart: s['cart'] ?? [] };
  });
  router.post('/api/login', async (ctx) => {
    const name = textField(ctx, 'name', false);
    const s = await ctx.session;
    s.regenerate(); // a new id at login defeats session fixation
    s['user'] = { name };
    ctx.body = { user: s['user'] };
  });
  router.post('/api/cart', async (ctx) => {
    const item = textField(ctx, 'item', true);
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
  // Demo aid: what the panel shows for one request. Touches no session.
  router.get('/api/calls/:id', (ctx) => {
    const { status, body } = callsResponse(ctx.params['id'] ?? '');
    ctx.status = status;
    ctx.body = body;
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}
