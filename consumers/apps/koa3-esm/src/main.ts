import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { DynamoDbStore } from 'dynamo-session';
import { requireFreshAuth, session } from 'dynamo-session/koa';

declare module 'dynamo-session' {
  interface SessionData {
    user?: { name: string };
    cart?: string[];
    email?: string;
  }
}

const store = new DynamoDbStore({
  tableName: process.env.SESSION_TABLE ?? 'dynamo-sessions',
  endpoint: process.env.DYNAMODB_ENDPOINT,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
await store.ready(); // fails fast at startup if the table is missing and may not be created

const app = new Koa();
const router = new Router();
app.use(bodyParser());
app.use(session({ store, secrets: [process.env.SESSION_SECRET!], ignoreUris: ['/health'] }));

router.get('/health', (ctx) => {
  ctx.body = { ok: true }; // never awaits ctx.session: 0 DynamoDB calls
});
router.post('/login', async (ctx) => {
  const { name } = ctx.request.body as { name: string };
  const s = await ctx.session;
  s.login(name); // a new id, the user and the time of the login
  s.user = { name };
  ctx.body = { user: s.user };
});
router.post('/email', requireFreshAuth(300), async (ctx) => {
  const s = await ctx.session; // a login within 5 minutes, or 401 before this runs
  s.email = (ctx.request.body as { email: string }).email;
  ctx.body = { email: s.email };
});
router.post('/cart', async (ctx) => {
  const { item } = ctx.request.body as { item: string };
  const s = await ctx.session;
  s.cart = [...(s.cart ?? []), item];
  ctx.body = { cart: s.cart };
});
router.get('/me', async (ctx) => {
  const s = await ctx.session;
  ctx.body = { user: s.user ?? null, cart: s.cart ?? [] };
});
router.post('/logout', async (ctx) => {
  (await ctx.session).destroy();
  ctx.body = { ok: true };
});
app.use(router.routes()).use(router.allowedMethods());

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`listening on http://${address}:${port}/`);
});
