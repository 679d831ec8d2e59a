import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { koaApp } from './koa-app';
import { nestApp, SessionModule } from './nest-app';
import { SessionHttpException } from '../../lib/nest';
import type { SessionOptions } from '../../lib';

export type AppKind = 'koa' | 'nest-express' | 'nest-fastify';
export const APP_KINDS: readonly AppKind[] = ['koa', 'nest-express', 'nest-fastify'];
/** Koa behind the app's own error-rendering middleware, for specs about what reaches the client when Koa's handler does not run. */
export type AnyAppKind = AppKind | 'koa-own-errors';

/** A test app listening on 127.0.0.1, with every error it raised on the way to its error handler. */
export interface ServedApp {
  readonly url: string;
  readonly errors: unknown[];
  close(): Promise<void>;
}

/** The same routes (spec/support/koa-app.ts, nest-app.ts) served by Koa or by Nest on Express or Fastify. */
export async function serveApp(kind: AnyAppKind, options: SessionOptions, platform: { trustProxy?: boolean } = {}): Promise<ServedApp> {
  const errors: unknown[] = [];
  if (kind === 'koa' || kind === 'koa-own-errors') {
    const app = koaApp(options, { ownErrorMiddleware: kind === 'koa-own-errors' });
    app.proxy = platform.trustProxy ?? false;
    app.silent = true;
    app.on('error', (e: unknown) => errors.push(e));
    const handle = app.callback(); // Koa answers its own errors: nothing is left to catch
    const server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      errors,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
  const app = await nestApp(kind === 'nest-fastify' ? 'fastify' : 'express', SessionModule.forRoot(options), {
    // Client errors reach Nest's filters as SessionHttpException (so they are not logged as server errors); the typed error is its cause.
    onError: (e) => errors.push(e instanceof SessionHttpException ? e.sessionError : e),
    ...platform,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, errors, close: () => app.close() };
}
