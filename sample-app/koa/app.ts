import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { requireFreshAuth, session } from 'dynamo-session/koa';
import type { SessionStore } from 'dynamo-session';
import { samplePage } from '../page';
import { devicesOf, emailProblem, FRESH_AUTH_SECONDS, handleOf, MAX_TEXT_LENGTH } from '../account';
import { CALLS_HEADER, callsResponse, withDynamoDbCallLog } from '../dynamodb-calls';

interface CartItem {
  readonly name: string;
  readonly qty: number;
}

/**
 * One text field of the JSON body: a string, or a number for items, trimmed and of bounded length.
 * Checked by type, never converted with String(): a client's object can make that throw or recurse.
 */
function textField(ctx: Koa.Context, field: 'name' | 'item' | 'email', acceptNumber: boolean): string {
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

/** The Koa sample: login, a cart, a page-view counter, your devices, a change of e-mail and logout, as a page plus a JSON API. */
export function createKoaSample(store: SessionStore, secrets: string[]): Koa {
  const app = new Koa();
  const router = new Router();
  // Demo aid (sample-app/dynamodb-calls.ts), first so it sees the whole request: the page's "DynamoDB calls" panel.
  app.use((ctx, next) => withDynamoDbCallLog(ctx.get(CALLS_HEADER), next));
  app.use(bodyParser({ onError: bodyError }));
  // A name and a cart take a few KB: a session far larger is a client filling it with its own text. The library
  // refuses it with a 413 before any write (the default bound, 1 MiB, is for every app; this one knows better).
  // recordClientInfo: each session keeps the browser (User-Agent) and address it logged in from, for "Your devices".
  app.use(session({ store, secrets, ignoreUris: ['/health'], maxSessionBytes: 64 * 1024, recordClientInfo: true }));

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
    ctx.body = { user: s['user'] ?? null, cart: s['cart'] ?? [], views: s['views'], email: s['email'] ?? null };
  });
  router.get('/api/cart', async (ctx) => {
    const s = await ctx.session; // read only: nothing changes, so nothing is written
    ctx.body = { cart: s['cart'] ?? [] };
  });
  router.post('/api/login', async (ctx) => {
    const name = textField(ctx, 'name', false);
    const s = await ctx.session;
    if (s.principal !== name) delete s['email']; // the previous user's, if any
    s.login(name); // a new id (defeats session fixation), the user (for "Your devices"), and the time of this login
    s['user'] = { name };
    ctx.body = { user: s['user'] };
  });
  // "Is it you?": the name again (a real app asks for the password) renews the login, so "change e-mail" may go ahead.
  router.post('/api/reauth', async (ctx) => {
    const name = textField(ctx, 'name', false);
    const s = await ctx.session;
    if (s.principal === undefined) ctx.throw(401, 'nobody is logged in: log in first');
    if (name !== s.principal) ctx.throw(401, 'that is not the name you logged in with');
    s.login(name);
    ctx.body = { user: s['user'] ?? null };
  });
  // Needs a login within FRESH_AUTH_SECONDS: otherwise a 401 before the handler, and the page asks for the name again.
  router.post('/api/email', requireFreshAuth(FRESH_AUTH_SECONDS), async (ctx) => {
    const email = textField(ctx, 'email', false);
    const problem = emailProblem(email);
    if (problem) ctx.throw(400, problem);
    const s = await ctx.session;
    s['email'] = email; // a real app writes it to its user database; the sample has only the session
    ctx.body = { email };
  });
  // "Your devices": this user's other sessions (never the current one, never another user's).
  router.get('/api/devices', async (ctx) => {
    ctx.body = { devices: devicesOf(await (await ctx.session).otherSessions()) };
  });
  router.post('/api/devices/sign-out', async (ctx) => {
    const body: unknown = ctx.request.body;
    const handle = handleOf(body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['handle'] : undefined);
    if (handle === undefined) return ctx.throw(400, 'handle is required: one from GET /api/devices');
    (await ctx.session).destroyOther(handle); // at commit; a handle of no session of this user is a 404
    ctx.body = { ok: true };
  });
  router.post('/api/devices/sign-out-others', async (ctx) => {
    (await ctx.session).destroyOthers();
    ctx.body = { ok: true };
  });
  router.post('/api/cart', async (ctx) => {
    const item = textField(ctx, 'item', true);
    const s = await ctx.session;
    const cart = (s['cart'] as CartItem[] | undefined) ?? [];
    const existing = cart.find((i) => i.name === item);
    s['cart'] = existing ? cart.map((i) => (i === existing ? { ...i, qty: i.qty + 1 } : i)) : [...cart, { name: item, qty: 1 }];
    ctx.body = { cart: s['cart'] };
  });
  // No load: a logout needs none (one DeleteItem), and it ends even a session no load could read.
  router.post('/api/logout', (ctx) => {
    ctx.sessionContext.destroy();
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
