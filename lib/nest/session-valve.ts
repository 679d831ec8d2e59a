import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { SessionError } from '../core/errors';
import type { Session } from '../core/session';
import type { SessionContext } from '../core/session-context';
import { SessionManager } from '../core/session-manager';
import { AnyRequest, rawRequest, RequestState, valveOfRequest } from './request-state';
import { addResponseHeaders } from './response-headers';

/**
 * The valve of the seeds (EnergyHub's DynamoSessionTrackerValve) as a Nest provider:
 * it owns each request's session lifecycle. The middleware, the interceptor and
 * the response hooks only call it, and it is the one place that saves.
 */
@Injectable()
export class SessionValve {
  private readonly requests = new WeakMap<IncomingMessage, RequestState>();

  constructor(@Inject(SessionManager) readonly manager: SessionManager) {}

  /** Starts tracking a request. Reads nothing: the session loads on first use. */
  begin(req: IncomingMessage & { originalUrl?: string; secure?: boolean }, res: ServerResponse): SessionContext {
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
    });
    Object.assign(state, { context, response: res, secure: req.secure ?? isTls(req), commits: 0 });
    this.requests.set(req, state);
    valveOfRequest.set(req, this);
    return context;
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

  /**
   * After a handler failed: save the state it left, keep its error as the response.
   * A commit failure is logged, since the handler's error is what the client gets.
   */
  async commitAfterFailure(req: AnyRequest, response: object): Promise<void> {
    try {
      await this.commit(req, response);
    } catch (commitError) {
      this.manager.options.logger.error('session commit failed after the handler failed', commitError);
    }
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

export class SessionNotTrackedError extends SessionError {
  readonly status = 500;
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}
