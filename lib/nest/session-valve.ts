import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { commitAfterFailure } from '../core/commit-after-failure';
import { SessionError } from '../core/errors';
import type { Session } from '../core/session';
import type { SessionContext } from '../core/session-context';
import { SessionManager } from '../core/session-manager';
import { AnyRequest, rawRequest, RequestState } from './request-state';
import { HeaderSnapshot, resetHeaders, snapshotHeaders } from '../core/response-headers';
import { addResponseHeaders, headerTarget } from './response-headers';

/**
 * The per-request session valve (as EnergyHub's DynamoSessionTrackerValve is for Tomcat), as a Nest provider:
 * it owns each request's session lifecycle. The middleware, the interceptor and
 * the response hooks only call it, and it is the one place that saves.
 */
@Injectable()
export class SessionValve {
  private readonly requests = new WeakMap<IncomingMessage, RequestState>();
  /** The response headers each request had before the app's own code ran: what an error answer keeps. */
  private readonly baselines = new WeakMap<IncomingMessage, HeaderSnapshot>();

  constructor(@Inject(SessionManager) readonly manager: SessionManager) {}

  /** Starts tracking a request. Reads nothing: the session loads on first use. */
  begin(req: IncomingMessage & { originalUrl?: string; secure?: boolean; ip?: string }, res: ServerResponse): SessionContext {
    const existing = this.requests.get(req);
    if (existing) return existing.context;
    const url = req.originalUrl ?? req.url ?? '/';
    const queryAt = url.indexOf('?');
    const state = {} as RequestState;
    const context = this.manager.createContext({
      method: req.method ?? 'GET',
      path: queryAt === -1 ? url : url.slice(0, queryAt),
      headers: req.headers,
      get secure() {
        return state.secure;
      },
      // Read only to record a new session's client (recordClientInfo): Express's req.ip follows 'trust proxy'.
      get ip() {
        return state.ip ?? req.ip ?? req.socket?.remoteAddress;
      },
    });
    Object.assign(state, { context, response: res, secure: req.secure ?? isTls(req), commits: 0 });
    this.requests.set(req, state);
    valves.set(req, this);
    this.noteBaseline(req, res);
    return context;
  }

  /**
   * Records the headers `response` carries now as set before the app's code.
   * Fastify calls it again just before the route runs, once its plugins' hooks
   * (CORS, helmet) have added theirs to the reply.
   */
  noteBaseline(req: AnyRequest, response: object): void {
    const raw = rawRequest(req);
    this.baselines.set(raw, { ...this.baselines.get(raw), ...snapshotHeaders(headerTarget(response)) });
  }

  /**
   * For a session error that replaces the app's answer: drops the headers the
   * handler, a guard or a filter set for that answer, and sets the error's.
   */
  resetHeaders(req: AnyRequest, response: object, headers: Readonly<Record<string, string>>): void {
    resetHeaders(headerTarget(response), this.baselines.get(rawRequest(req)) ?? {}, headers);
  }

  /**
   * The response hooks answer a failed commit themselves, after Nest's exception
   * filters ran: a server-side failure must still reach the log, a client error need not.
   */
  reportReplacedResponse(error: unknown): void {
    if (error instanceof SessionError && error.status < 500) return;
    this.manager.options.logger.error('session commit failed after the response was ready; it was replaced by an error response', error);
  }

  /** The request's session, loaded on the first call. */
  get(req: AnyRequest): Promise<Session> {
    return this.state(req).context.load();
  }

  /** The lifecycle behind the request's session (ignored?, loaded?). */
  context(req: AnyRequest): SessionContext {
    return this.state(req).context;
  }

  /**
   * Saves what changed now and puts the resulting headers on `response`
   * (or on the request's own response). Call it before streaming a body.
   */
  async commit(req: AnyRequest, response?: object): Promise<void> {
    const state = this.state(req);
    state.commits++;
    const result = await state.context.commit();
    addResponseHeaders(response ?? state.response, result.headers);
  }

  /** After a handler failed: saves the state it left. Its error stays the response; a commit that fails too is logged. */
  async commitAfterFailure(req: AnyRequest, response: object): Promise<void> {
    const state = this.state(req);
    state.commits++;
    await commitAfterFailure(state.context, this.manager.options.logger, (result) => addResponseHeaders(response, result.headers));
  }

  /** For the response hooks: commits a loaded session nobody committed yet (a guard or filter ended the request). */
  async finish(req: AnyRequest, response: object, secure?: boolean): Promise<void> {
    const state = this.requests.get(rawRequest(req));
    if (!state || state.commits > 0 || !state.context.loaded) return;
    if (secure !== undefined) state.secure = secure;
    await this.commit(req, response);
  }

  /** Fills in the protocol once the platform knows it (Fastify applies trustProxy after middleware). */
  setSecure(req: AnyRequest, secure: boolean): void {
    const state = this.requests.get(rawRequest(req));
    if (state) state.secure = secure;
  }

  /** The client's address once the platform knows it (Fastify applies trustProxy after middleware). */
  setClientIp(req: AnyRequest, ip: string | undefined): void {
    const state = this.requests.get(rawRequest(req));
    if (state && ip !== undefined) state.ip = ip;
  }

  isTracked(req: AnyRequest): boolean {
    return this.requests.has(rawRequest(req));
  }

  private state(req: AnyRequest): RequestState {
    const state = this.requests.get(rawRequest(req));
    if (!state) {
      throw new SessionNotTrackedError(
        'This request has no session: SessionModule is not imported in the application, or the request did not pass its middleware.',
      );
    }
    return state;
  }
}

/**
 * Which valve tracks a request. Param decorators live outside DI, and several
 * Nest apps may run in one process, so the request itself leads to its valve.
 */
const valves = new WeakMap<IncomingMessage, SessionValve>();

export function valveOf(req: AnyRequest): SessionValve | undefined {
  return valves.get(rawRequest(req));
}

export class SessionNotTrackedError extends SessionError {
  readonly status = 500;
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}
