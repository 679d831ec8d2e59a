import { SessionEventMap, SessionEventName, SessionEvents } from './events';
import { CookieTransport, HeaderTransport } from './id-transport';
import type { ResolvedSessionOptions, SessionOptions } from './options';
import { jsonSerializer } from './serializer';
import { SessionContext } from './session-context';
import type { RequestInfo, SessionRuntime } from './request-types';
import { IdSigner } from './signer';
import { resolveSessionOptions } from './validate-options';

/**
 * Framework-free entry point: validated options, the store, events, and a
 * factory for per-request contexts. The Koa and Nest adapters wrap one of these.
 */
export class SessionManager {
  readonly options: ResolvedSessionOptions;
  private readonly events: SessionEvents;
  private readonly runtime: SessionRuntime;

  constructor(options: SessionOptions) {
    this.options = resolveSessionOptions(options);
    const { logger } = this.options;
    this.events = new SessionEvents((event, error) => logger.error(`a "${event}" listener threw`, error));
    const serializer = this.options.store.serializer ?? jsonSerializer;
    const { maxSessionBytes, compressThreshold, compression, attributeFilter } = this.options;
    this.runtime = {
      options: this.options,
      signer: new IdSigner(this.options.secrets),
      transport: this.options.idHeader ? new HeaderTransport(this.options.idHeader) : new CookieTransport(this.options.cookie),
      serializer,
      events: this.events,
      codec: Object.freeze({ serializer, maxSessionBytes, compressThreshold, compression, attributeFilter, logger }),
    };
    const metrics = this.options.metrics;
    if (metrics) {
      // Counters follow the events, so the two never disagree.
      this.events.on('created', () => metrics.increment('created'));
      this.events.on('saved', () => metrics.increment('saved'));
      this.events.on('destroyed', () => metrics.increment('destroyed'));
      this.events.on('expired', () => metrics.increment('expired'));
      this.events.on('invalid', () => metrics.increment('invalid_cookie'));
      this.events.on('conflict', () => metrics.increment('conflict'));
      this.events.on('login', () => metrics.increment('login'));
      this.events.on('evicted', () => metrics.increment('evicted'));
    }
  }

  get store(): ResolvedSessionOptions['store'] {
    return this.options.store;
  }

  /** Starts a request's session lifecycle. Cheap: nothing is read until `load()`. */
  createContext(request: RequestInfo): SessionContext {
    return new SessionContext(this.runtime, request);
  }

  /** Resolves when the store can serve requests; await it at startup to fail fast. */
  ready(): Promise<void> {
    return this.options.store.ready();
  }

  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }
}
