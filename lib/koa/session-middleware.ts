import type { Middleware, ParameterizedContext } from 'koa';
import { commitAfterFailure } from '../core/commit-after-failure';
import { SessionError } from '../core/errors';
import { resetHeaders, snapshotHeaders } from '../core/response-headers';
import { SessionManager } from '../core/session-manager';
import type { SessionOptions } from '../core/options';
import type { SessionContext } from '../core/session-context';
import type { CommitResult } from '../core/request-types';
import type { Session } from '../core/session';
import type { HeaderList } from '../core/id-transport';

export interface KoaSessionMiddleware extends Middleware {
  /** The manager behind the middleware: events, `ready()`, the store. */
  readonly manager: SessionManager;
}

/**
 * Koa middleware. `await ctx.session` loads the session on first use; after the
 * rest of the chain has run, and before Koa sends the response, what changed is committed.
 */
export function session(options: SessionOptions | SessionManager): KoaSessionMiddleware {
  const manager = options instanceof SessionManager ? options : new SessionManager(options);

  // Named, so stack traces through the middleware chain say whose frame it is.
  async function dynamoSession(ctx: ParameterizedContext, next: () => Promise<unknown>): Promise<void> {
    const context = manager.createContext({
      method: ctx.method, path: ctx.path, headers: ctx.headers, secure: ctx.secure,
      // Read only to record a new session's client (recordClientInfo); Koa applies app.proxy.
      get ip(): string {
        return ctx.ip;
      },
    });
    defineAccessorsOnce(Object.getPrototypeOf(ctx) as object);
    (ctx as unknown as Record<symbol, SessionContext>)[CONTEXT] = context;
    const before = snapshotHeaders(ctx.res);

    try {
      await next();
    } catch (handlerError) {
      await commitAfterFailure(context, manager.options.logger, (result) => addToErrorHeaders(handlerError, result));
      throw handlerError;
    }
    let result: CommitResult;
    try {
      result = await context.commit();
    } catch (commitError) {
      // Koa's own error handler drops every header anyway, but an app's error middleware that renders the
      // error itself would keep the handler's (its Location, cookies, Cache-Control): back to what came before.
      if (!ctx.res.headersSent) resetHeaders(ctx.res, before, commitError instanceof SessionError ? commitError.headers : {});
      throw commitError;
    }
    applyHeaders(ctx, result);
  }
  return Object.assign(dynamoSession, { manager });
}

const CONTEXT = Symbol('dynamo-session context');
const prepared = new WeakSet<object>();

/**
 * `ctx.session` and `ctx.sessionContext` as getters on the app's context
 * prototype, defined once: defining them on every ctx costs more than the
 * rest of the middleware (it turns each ctx into a slow dictionary object).
 */
function defineAccessorsOnce(prototype: object): void {
  if (prepared.has(prototype)) return;
  prepared.add(prototype);
  const contextOf = (ctx: object): SessionContext => {
    const context = (ctx as Record<symbol, SessionContext | undefined>)[CONTEXT];
    if (!context) throw new Error('ctx.session is only available behind the dynamo-session middleware');
    return context;
  };
  Object.defineProperties(prototype, {
    session: { configurable: true, enumerable: false, get(this: object): Promise<Session> { return contextOf(this).load(); } },
    sessionContext: { configurable: true, enumerable: false, get(this: object): SessionContext { return contextOf(this); } },
  });
}

/**
 * Koa drops every response header when it renders an error except
 * `err.headers`, so the cookie of the state the handler left goes there.
 */
function addToErrorHeaders(handlerError: unknown, result: CommitResult): void {
  if (result.headers.length === 0 || handlerError === null || typeof handlerError !== 'object') return;
  const err = handlerError as { headers?: Record<string, string | string[]> };
  err.headers = { ...err.headers, ...headerRecord(result.headers) };
}

function applyHeaders(ctx: ParameterizedContext, result: CommitResult): void {
  for (const [name, value] of result.headers) {
    if (name === 'Set-Cookie') ctx.append(name, value);
    else ctx.set(name, value);
  }
}

function headerRecord(headers: HeaderList): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const [name, value] of headers) {
    const existing = record[name];
    record[name] = existing === undefined ? value : ([] as string[]).concat(existing, value);
  }
  return record;
}
