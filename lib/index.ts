export { SessionManager } from './core/session-manager';
export { SessionContext } from './core/session-context';
export type { CommitResult, RequestInfo } from './core/request-types';
export type { Session, SessionControls, SessionData } from './core/session';
export type { OtherSession } from './core/account';
export type { CookieOptions, Pattern, SameSite, SessionOptions, ResolvedSessionOptions } from './core/options';
export type { Compression } from './core/stored-value';
export type { Logger } from './core/logger';
export type { SessionEventMap, SessionEventName } from './core/events';
export type { Serializer } from './core/serializer';
export * from './core/errors';
export { SessionStore } from './core/session-store';
export type {
  DestroyOutcome, LockOutcome, NewSession, PrincipalSession, PrincipalSessionQuery, SessionTimes, SessionUpdate, StoredSession, StoredValue, UpdateOutcome,
} from './core/session-store';
export { MemoryStore } from './core/memory-store';
export * from './store';
