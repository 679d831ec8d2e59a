import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { DynamoDBClient, CreateTableCommand } from '@aws-sdk/client-dynamodb';
import Koa from 'koa';
import Router from '@koa/router';
import express from 'express';
import expressSession from 'express-session';
import koaSession from 'koa-session';
import { Controller, Get, INestApplication, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { DynamoDbStore, DynamoDbStoreOptions } from 'dynamo-session';
import { session as dynamoSession } from 'dynamo-session/koa';
import { Session, SessionModule } from 'dynamo-session/nest';
import { KoaSessionDynamoDbStore } from './koa-session-dynamodb-store';

/* eslint-disable @typescript-eslint/no-require-imports */
const ConnectDynamoDb = require('connect-dynamodb') as (session: typeof expressSession) => new (options: object) => expressSession.Store;

export interface TargetEnv {
  readonly endpoint: string;
  readonly tableName: string;
}

const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const client = (env: TargetEnv) => new DynamoDBClient({ endpoint: env.endpoint, region: 'us-east-1', credentials, maxAttempts: 3 });

/**
 * Bytes of opaque payload a login adds beside the profile (target variants `-1kb`, `-20kb`): tokens a
 * backend-for-frontend keeps, say. Random base64url, so compression cannot make it small. Set once per target process.
 */
let payloadBytes = 0;

/** What every target keeps in a session: a small profile and a cart, about 300 bytes (and the variant's payload). */
export function profile(): Record<string, unknown> {
  return {
    user: { id: 'u-1234', name: 'Ada Lovelace', email: 'ada@example.com', roles: ['customer'] },
    cart: [{ sku: 'TEA-001', qty: 2, price: 4.5 }, { sku: 'SCONE-7', qty: 1, price: 3.25 }],
    count: 0,
    ...(payloadBytes > 0 && { payload: randomBytes(Math.ceil((payloadBytes * 3) / 4)).toString('base64url').slice(0, payloadBytes) }),
  };
}

type SessionLike = Record<string, unknown>;
/** The route handlers, the same for every target; only how the session is reached differs. */
const handlers = {
  login: (s: SessionLike) => Object.assign(s, profile()),
  read: (s: SessionLike) => ({ count: s['count'] ?? null }),
  write: (s: SessionLike) => ({ count: (s['count'] = ((s['count'] as number | undefined) ?? 0) + 1) }),
  own: (s: SessionLike, i: string) => ({ [`k${i}`]: (s[`k${i}`] = Number(i)) }),
  incr: (s: SessionLike) => ({ counter: (s['counter'] = ((s['counter'] as number | undefined) ?? 0) + 1) }),
};

/**
 * The `touch` workload: extend the session's life without changing it, each library its own way. dynamo-session:
 * session.touch() (its reads touch by themselves once touchAfter has passed). koa-session has no touch for a stored
 * session: a change (here a timestamp) makes it save the whole session, its only way to extend one. express-session:
 * nothing to do, connect-dynamodb touches the item on every request.
 */
function touched(s: SessionLike): { ok: true } {
  const touch = (s as { touch?: unknown }).touch;
  if (typeof touch === 'function') (touch as () => void).call(s);
  else s['touchedAt'] = Date.now();
  return { ok: true };
}

function koaRoutes(router: Router, sessionOf: (ctx: Koa.ParameterizedContext) => Promise<SessionLike> | SessionLike): Router {
  router.get('/none', (ctx) => void (ctx.body = { ok: true }));
  router.post('/login', async (ctx) => void (ctx.body = (handlers.login(await sessionOf(ctx)), { ok: true })));
  router.get('/read', async (ctx) => void (ctx.body = handlers.read(await sessionOf(ctx))));
  router.post('/write', async (ctx) => void (ctx.body = handlers.write(await sessionOf(ctx))));
  router.post('/own/:i', async (ctx) => void (ctx.body = handlers.own(await sessionOf(ctx), ctx.params['i']!)));
  router.post('/incr', async (ctx) => void (ctx.body = handlers.incr(await sessionOf(ctx))));
  router.post('/touch', async (ctx) => void (ctx.body = touched(await sessionOf(ctx))));
  router.get('/all', async (ctx) => void (ctx.body = { ...(await sessionOf(ctx)) }));
  return router;
}

function expressRoutes(app: express.Express, sessionOf: (req: express.Request) => SessionLike): express.Express {
  app.get('/none', (_req, res) => void res.json({ ok: true }));
  app.post('/login', (req, res) => void res.json((handlers.login(sessionOf(req)), { ok: true })));
  app.get('/read', (req, res) => void res.json(handlers.read(sessionOf(req))));
  app.post('/write', (req, res) => void res.json(handlers.write(sessionOf(req))));
  app.post('/own/:i', (req, res) => void res.json(handlers.own(sessionOf(req), req.params['i'])));
  app.post('/incr', (req, res) => void res.json(handlers.incr(sessionOf(req))));
  app.post('/touch', (req, res) => void res.json({ ok: !!sessionOf(req) }));
  app.get('/all', (req, res) => void res.json({ ...sessionOf(req) }));
  return app;
}

export interface Target {
  /** What its throughput is compared with. */
  kind: 'baseline' | 'ours' | 'peer';
  framework: 'koa' | 'express' | 'nest';
  label: string;
  /** Cost variants (a payload, another layout) are measured for DynamoDB cost and races only, not throughput. */
  costOnly?: boolean;
  start(env: TargetEnv): Promise<Server>;
}

/** Each target is an HTTP server. */
export const TARGETS: Record<string, Target> = {
  'koa-baseline': {
    kind: 'baseline', framework: 'koa', label: 'Koa, no sessions (per-process memory)',
    start() {
      const memory = new Map<string, SessionLike>();
      const app = new Koa();
      app.use(koaRoutes(new Router(), () => memory.get('shared') ?? memory.set('shared', {}).get('shared')!).routes());
      return Promise.resolve(koaServer(app));
    },
  },
  // The counter race needs one attribute changed by many: those requests lock, the others do not.
  'koa-dynamo-session': koaOurs('Koa + dynamo-session (split layout, the default)', {}, 0, false),
  'koa-session-dynamodb': {
    kind: 'peer', framework: 'koa', label: 'Koa + koa-session (DynamoDB external store)',
    async start(env) {
      await client(env).send(new CreateTableCommand({
        TableName: env.tableName, BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'sessionId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'sessionId', KeyType: 'HASH' }],
      }));
      const app = new Koa();
      app.keys = [SECRET];
      app.use(koaSession({ store: new KoaSessionDynamoDbStore(client(env), env.tableName), maxAge: 86_400_000 }, app));
      app.use(koaRoutes(new Router(), (ctx) => ctx.session as unknown as SessionLike).routes());
      return koaServer(app);
    },
  },
  'express-baseline': {
    kind: 'baseline', framework: 'express', label: 'Express, no sessions (per-process memory)',
    start() {
      const shared: SessionLike = {};
      return Promise.resolve(createServer(expressRoutes(express(), () => shared)));
    },
  },
  'express-session-connect-dynamodb': {
    kind: 'peer', framework: 'express', label: 'Express + express-session + connect-dynamodb',
    async start(env) {
      const Store = ConnectDynamoDb(expressSession);
      const store = new Store({ table: env.tableName, client: client(env) });
      await new Promise((r) => setTimeout(r, 1500)); // connect-dynamodb creates its table in the background
      const app = express();
      app.use(expressSession({ store, secret: SECRET, resave: false, saveUninitialized: false }));
      return createServer(expressRoutes(app, (req) => req.session as unknown as SessionLike));
    },
  },
  'nest-baseline': {
    kind: 'baseline', framework: 'nest', label: 'NestJS (Express), no sessions (per-process memory)',
    async start() {
      const shared: SessionLike = {};
      return nestServer(nestModule(() => shared, []));
    },
  },
  'nest-dynamo-session': {
    kind: 'ours', framework: 'nest', label: 'NestJS (Express) + dynamo-session',
    async start(env) {
      const store = new DynamoDbStore({ tableName: env.tableName, client: client(env) });
      await store.ready();
      return nestServer(nestModule(undefined, [SessionModule.forRoot({ store, secrets: [SECRET], locking: { uriPattern: 'POST /incr' } })]));
    },
  },
};

/** dynamo-session on Koa with the given store options (the default target and its layout and payload variants). */
function koaOurs(label: string, options: Partial<DynamoDbStoreOptions>, payload: number, costOnly = true): Target {
  return {
    kind: 'ours', framework: 'koa', label, costOnly,
    async start(env) {
      payloadBytes = payload;
      const store = new DynamoDbStore({ tableName: env.tableName, client: client(env), ...options });
      await store.ready();
      const app = new Koa();
      app.use(dynamoSession({ store, secrets: [SECRET], locking: { uriPattern: 'POST /incr' } }));
      app.use(koaRoutes(new Router(), (ctx) => ctx.session as Promise<SessionLike>).routes());
      return koaServer(app);
    },
  };
}

/** A target's variant with a payload in every session, measured for cost. */
function withPayload(name: string, bytes: number): Target {
  const base = TARGETS[name]!;
  return {
    ...base, costOnly: true, label: `${base.label}, ${bytes / 1024} KB payload`,
    start: (env) => {
      payloadBytes = bytes;
      return base.start(env);
    },
  };
}

TARGETS['koa-dynamo-session-single'] = koaOurs('Koa + dynamo-session (single layout)', { layout: 'single' }, 0);
for (const kb of [1, 20]) {
  TARGETS[`koa-dynamo-session-single-${kb}kb`] = koaOurs(`Koa + dynamo-session (single layout), ${kb} KB payload`, { layout: 'single' }, kb * 1024);
  TARGETS[`koa-dynamo-session-split-${kb}kb`] = koaOurs(`Koa + dynamo-session (split layout), ${kb} KB payload`, { layout: 'split' }, kb * 1024);
  TARGETS[`koa-session-dynamodb-${kb}kb`] = withPayload('koa-session-dynamodb', kb * 1024);
  TARGETS[`express-session-connect-dynamodb-${kb}kb`] = withPayload('express-session-connect-dynamodb', kb * 1024);
}

/** A Nest controller with the same routes; `shared` replaces the session in the baseline. */
function nestModule(shared: (() => SessionLike) | undefined, imports: NonNullable<Parameters<typeof Module>[0]>['imports']) {
  const param = shared ? () => () => undefined : Session;
  const get = (s: SessionLike | undefined): SessionLike => s ?? shared!();
  @Controller()
  class BenchController {
    @Get('none') none() {
      return { ok: true };
    }
    @Post('login') login(@param() s: SessionLike) {
      handlers.login(get(s));
      return { ok: true };
    }
    @Get('read') read(@param() s: SessionLike) {
      return handlers.read(get(s));
    }
    @Post('write') write(@param() s: SessionLike) {
      return handlers.write(get(s));
    }
    @Post('own/:i') own(@param() s: SessionLike, @Param('i') i: string) {
      return handlers.own(get(s), i);
    }
    @Post('incr') incr(@param() s: SessionLike) {
      return handlers.incr(get(s));
    }
    @Post('touch') touch(@param() s: SessionLike) {
      return touched(get(s));
    }
    @Get('all') all(@param() s: SessionLike) {
      return { ...get(s) };
    }
  }
  @Module({ imports, controllers: [BenchController] })
  class BenchModule {}
  return BenchModule;
}

async function nestServer(module: new () => unknown): Promise<Server> {
  const app: INestApplication = await NestFactory.create(module, new ExpressAdapter(), { logger: false });
  await app.init();
  return app.getHttpServer() as Server;
}

/** Koa answers its own errors inside the callback, so nothing is left to catch here. */
function koaServer(app: Koa): Server {
  const handle = app.callback();
  return createServer((req, res) => void handle(req, res));
}
