import type { Compression } from './stored-value';
import type { SessionStore } from './session-store';
import type { StatsD } from 'hot-shots';
import type { Logger } from './logger';
import type { Metrics, StatsdOptions } from './metrics';

export type Pattern = string | RegExp;
export type SameSite = 'lax' | 'strict' | 'none' | false;

export interface CookieOptions {
  /** Cookie name. A `__Host-` prefix requires `secure: true`, `path: '/'` and no domain. */
  name?: string;
  httpOnly?: boolean;
  /** `'auto'` marks the cookie Secure when the request came over HTTPS (honours Koa's `app.proxy`). */
  secure?: boolean | 'auto';
  sameSite?: SameSite;
  path?: string;
  domain?: string;
  /**
   * Seconds. Absent (default): a browser-session cookie, and the server enforces
   * `maxInactiveInterval`. Set: a persistent cookie, re-issued whenever the session's expiry moves.
   */
  maxAge?: number;
}

/**
 * Resolves a same-attribute conflict: `mine` is what this request wants,
 * `theirs` what another request stored since this one loaded (undefined: absent).
 * Return the value to store, or undefined to remove the attribute.
 */
export type MergeFunction = (attribute: string, mine: unknown, theirs: unknown) => unknown;

export type OnConflict = 'last-write-wins' | 'reject' | MergeFunction;

/** 'all': every request that loads a stored session holds its lease; `uriPattern`: only requests whose `METHOD /path` matches. */
export type Locking = 'none' | 'all' | { uriPattern: Pattern };

export interface SessionOptions {
  /** Where sessions live. Default: a MemoryStore, but only when NODE_ENV is 'test' or 'development'. */
  store?: SessionStore;
  /** Cookie signing secrets, each at least 32 bytes: the first signs, all verify (rotation). */
  secrets: string | readonly string[];
  cookie?: CookieOptions;
  /** Read and send the signed id in this header instead of a cookie (API clients). */
  idHeader?: string;
  /** Idle timeout in seconds, as Tomcat's `maxInactiveInterval`. Default 1800. Must be positive. */
  maxInactiveInterval?: number;
  /** Seconds since creation after which a session ends however active it is. */
  absoluteTimeout?: number;
  /** An unchanged session is written only when less than `maxInactiveInterval - touchAfter` s remain. Default 60. */
  touchAfter?: number;
  /** Paths (no query string) whose requests never write. Strings are full-match regexes, as EnergyHub's `ignoreUris`. */
  ignoreUris?: Pattern | readonly Pattern[];
  /** Header names whose presence makes a request read-only (EnergyHub's `ignoreHeaders`). */
  ignoreHeaders?: Pattern | readonly Pattern[];
  /** Attribute values whose encoded form is larger than this many bytes are stored gzip'd. Default 4096. */
  compressThreshold?: number;
  /**
   * Bytes the session's data may take before compression (the serializer's output, all
   * attributes together). Larger sessions are refused with 413 on write, and decompression
   * on read stops at this bound, so no stored value can make a request inflate more. Default 1 MiB.
   */
  maxSessionBytes?: number;
  /** How values above compressThreshold are compressed: 'gzip' (default) or 'brotli' (smaller, slower). Reads decode either. */
  compression?: Compression;
  /** 'fail' (default): a store error on load fails the request with 503. 'continue-without-session': the
   * handler gets an empty session that is never saved and no cookie is touched. */
  onStoreError?: 'fail' | 'continue-without-session';
  /** Pessimistic locking, as memcached-session-manager's lockingMode. Default 'none' (optimistic). */
  locking?: Locking;
  /** Milliseconds a lease lasts, so a crashed holder blocks others at most this long. Default 5000. */
  lockExpiration?: number;
  /** Milliseconds a request waits for a lease before SessionLockTimeoutError. Default 10000. */
  lockTimeout?: number;
  /** What to do when another request changed an attribute this one changed too. Default 'last-write-wins'. */
  onConflict?: OnConflict;
  /** Retries of a commit whose guarded attributes changed meanwhile (merge functions only). Default 5. */
  maxCommitRetries?: number;
  logger?: Logger;
  /** Metrics to statsd via hot-shots: `{ host, port, prefix }` (EnergyHub's `statsdHost`/`statsdPort`) or your StatsD client. */
  statsd?: StatsdOptions | StatsD;
  /** Log loaded and saved attributes at debug level (EnergyHub's `logSessionContents`). Default false. */
  logSessionContents?: boolean;
  /** Attribute keys masked, at any depth, in logged session contents. */
  redact?: readonly string[];
  /** Only attributes whose name matches are stored; others live for the request only (memcached-session-manager's `sessionAttributeFilter`). */
  attributeFilter?: Pattern;
  /**
   * At most this many live sessions per user: `session.login()` destroys the user's least recently used
   * sessions beyond it (never the current one). Default: no limit.
   */
  maxSessionsPerPrincipal?: number;
  /**
   * Store the client's User-Agent (first 256 characters) and IP address (as the framework resolves it) when a
   * session is created or logs in, for `session.otherSessions()` ("your devices"). Default false.
   */
  recordClientInfo?: boolean;
  /** Milliseconds since the epoch; injectable so tests can cross expiry boundaries without waiting. */
  now?: () => number;
}

export interface ResolvedCookieOptions {
  readonly name: string;
  readonly httpOnly: boolean;
  readonly secure: boolean | 'auto';
  readonly sameSite: SameSite;
  readonly path: string;
  readonly domain: string | undefined;
  readonly maxAge: number | undefined;
}

export interface ResolvedSessionOptions {
  readonly store: SessionStore;
  readonly secrets: readonly string[];
  readonly cookie: ResolvedCookieOptions;
  readonly idHeader: string | undefined;
  readonly maxInactiveInterval: number;
  readonly absoluteTimeout: number | undefined;
  readonly touchAfter: number;
  readonly ignoreUris: readonly RegExp[];
  readonly ignoreHeaders: readonly RegExp[];
  readonly compressThreshold: number;
  readonly maxSessionBytes: number;
  readonly compression: Compression;
  readonly onStoreError: 'fail' | 'continue-without-session';
  /** undefined: no locking; otherwise the requests (`METHOD /path`) that lock. */
  readonly lockPattern: RegExp | undefined;
  readonly lockExpiration: number;
  readonly lockTimeout: number;
  readonly onConflict: OnConflict;
  readonly maxCommitRetries: number;
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  readonly logSessionContents: boolean;
  readonly redact: ReadonlySet<string>;
  readonly attributeFilter: RegExp | undefined;
  readonly maxSessionsPerPrincipal: number | undefined;
  readonly recordClientInfo: boolean;
  readonly now: () => number;
}

export const DEFAULTS = {
  cookieName: 'sid',
  maxInactiveInterval: 1800,
  touchAfter: 60,
  compressThreshold: 4096,
  maxSessionBytes: 1024 * 1024,
  minSecretBytes: 32,
  lockExpiration: 5000,
  lockTimeout: 10000,
  maxCommitRetries: 5,
} as const;
