import { EventEmitter } from 'node:events';

/**
 * Event payloads name sessions by their storage key (the SHA-256 of the id),
 * never by the id itself, so listeners can log them safely.
 */
export interface SessionEventMap {
  created: { key: string };
  saved: { key: string; changed: readonly string[]; removed: readonly string[]; touchOnly: boolean };
  destroyed: { key: string };
  expired: { key: string };
  invalid: { reason: 'bad-signature' | 'malformed' };
  conflict: { key: string; attributes: readonly string[] };
  /** `session.login()` was stored under this (new) key. */
  login: { key: string };
  /** A session of the same user destroyed by `maxSessionsPerPrincipal` when `by` logged in. */
  evicted: { key: string; by: string };
}

export type SessionEventName = keyof SessionEventMap;

/** A typed face on EventEmitter. Listener errors are the listener's: they never fail a request. */
export class SessionEvents {
  private readonly emitter = new EventEmitter();

  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  emit<E extends SessionEventName>(event: E, payload: SessionEventMap[E]): void {
    if (this.emitter.listenerCount(event) === 0) return;
    try {
      this.emitter.emit(event, payload);
    } catch (e) {
      this.onListenerError(event, e);
    }
  }

  constructor(private readonly onListenerError: (event: string, error: unknown) => void) {}
}
