import { MemoryStore } from './memory-store';
import { SessionStore } from './session-store';
import { SessionConfigError } from './errors';
import { defaultLogger, Logger } from './logger';
import {
  CookieOptions,
  DEFAULTS,
  ResolvedCookieOptions,
  ResolvedSessionOptions,
  SessionOptions,
} from './options';
import { compilePatterns } from './patterns';
import { describe, nonNegativeInteger, positiveInteger } from './option-checks';
import { createMetrics } from './metrics';

const KNOWN_OPTIONS = new Set<string>([
  'store', 'secrets', 'cookie', 'idHeader', 'maxInactiveInterval', 'absoluteTimeout', 'touchAfter',
  'ignoreUris', 'ignoreHeaders', 'compressThreshold', 'maxSessionBytes', 'compression', 'onStoreError', 'logger', 'now',
  'locking', 'lockExpiration', 'lockTimeout', 'onConflict', 'maxCommitRetries',
  'statsd', 'logSessionContents', 'redact', 'attributeFilter', 'maxSessionsPerPrincipal', 'recordClientInfo',
]);
const KNOWN_COOKIE_OPTIONS = new Set<string>(['name', 'httpOnly', 'secure', 'sameSite', 'path', 'domain', 'maxAge']);
const HINTS: Record<string, string> = {
  secret: 'secrets', maxAge: 'cookie.maxAge', name: 'cookie.name', key: 'cookie.name', ttl: 'maxInactiveInterval',
  table: 'DynamoDbStore tableName', tableName: 'DynamoDbStore tableName', rolling: 'cookie.maxAge',
};
// RFC 7230 token: what a cookie or header name may contain.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks every option and reports all problems in one SessionConfigError.
 * Works on a copy: the caller's object is never changed.
 */
export function resolveSessionOptions(input: SessionOptions): ResolvedSessionOptions {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object') {
    throw new SessionConfigError([`options must be an object, got ${describe(input)}`]);
  }
  for (const key of Object.keys(input)) {
    if (!KNOWN_OPTIONS.has(key)) problems.push(`unknown option "${key}"${HINTS[key] ? ` (did you mean ${HINTS[key]}?)` : ''}`);
  }

  const secrets = resolveSecrets(input.secrets, problems);
  const cookie = resolveCookie(input.cookie, problems);
  const maxInactiveInterval = positiveInteger('maxInactiveInterval', input.maxInactiveInterval, DEFAULTS.maxInactiveInterval, problems,
    'sessions that never idle out fail OWASP ASVS 3.3; use a large value such as 2592000 (30 days) instead');
  const absoluteTimeout = input.absoluteTimeout === undefined
    ? undefined : positiveInteger('absoluteTimeout', input.absoluteTimeout, 0, problems);
  const touchAfter = nonNegativeInteger('touchAfter', input.touchAfter, DEFAULTS.touchAfter, problems);
  if (touchAfter >= maxInactiveInterval && input.touchAfter !== undefined) {
    problems.push(`touchAfter (${touchAfter}) must be less than maxInactiveInterval (${maxInactiveInterval}), or sessions expire while in use`);
  }
  const compressThreshold = nonNegativeInteger('compressThreshold', input.compressThreshold, DEFAULTS.compressThreshold, problems);
  const maxSessionBytes = positiveInteger('maxSessionBytes', input.maxSessionBytes, DEFAULTS.maxSessionBytes, problems);
  const compression = input.compression ?? 'gzip';
  if (compression !== 'gzip' && compression !== 'brotli') problems.push(`compression must be 'gzip' or 'brotli', got ${describe(compression)}`);
  const ignoreUris = compilePatterns('ignoreUris', input.ignoreUris);
  // Header names are case-insensitive and Node lower-cases them; configs copied from Tomcat often spell them in capitals.
  const ignoreHeaders = compilePatterns('ignoreHeaders', input.ignoreHeaders, 'i');
  problems.push(...ignoreUris.problems, ...ignoreHeaders.problems);

  let idHeader: string | undefined;
  if (input.idHeader !== undefined) {
    if (typeof input.idHeader !== 'string' || !TOKEN.test(input.idHeader)) {
      problems.push(`idHeader must be a header name, got ${describe(input.idHeader)}`);
    } else {
      idHeader = input.idHeader.toLowerCase();
    }
  }
  const onStoreError = input.onStoreError ?? 'fail';
  if (onStoreError !== 'fail' && onStoreError !== 'continue-without-session') {
    problems.push(`onStoreError must be 'fail' or 'continue-without-session', got ${describe(onStoreError)}`);
  }
  const lockPattern = resolveLocking(input.locking, problems);
  const lockExpiration = positiveInteger('lockExpiration', input.lockExpiration, DEFAULTS.lockExpiration, problems);
  const lockTimeout = positiveInteger('lockTimeout', input.lockTimeout, DEFAULTS.lockTimeout, problems);
  const onConflict = input.onConflict ?? 'last-write-wins';
  if (onConflict !== 'last-write-wins' && onConflict !== 'reject' && typeof onConflict !== 'function') {
    problems.push(`onConflict must be 'last-write-wins', 'reject' or a function (attribute, mine, theirs) => value`);
  }
  const maxCommitRetries = nonNegativeInteger('maxCommitRetries', input.maxCommitRetries, DEFAULTS.maxCommitRetries, problems);
  const logger = resolveLogger(input.logger, problems);
  const statsd = input.statsd;
  if (statsd !== undefined && (typeof statsd !== 'object' || statsd === null)) problems.push('statsd must be { host, port, prefix } or a hot-shots StatsD client');
  if (statsd !== undefined && typeof statsd === 'object' && statsd !== null && 'port' in statsd && statsd.port !== undefined) {
    positiveInteger('statsd.port', statsd.port, 8125, problems);
  }
  if (input.logSessionContents !== undefined && typeof input.logSessionContents !== 'boolean') problems.push('logSessionContents must be a boolean');
  const redact = input.redact ?? [];
  if (!Array.isArray(redact) || redact.some((r) => typeof r !== 'string')) problems.push('redact must be an array of attribute keys');
  const attributeFilter = compilePatterns('attributeFilter', input.attributeFilter);
  problems.push(...attributeFilter.problems);
  const maxSessionsPerPrincipal = input.maxSessionsPerPrincipal === undefined
    ? undefined : positiveInteger('maxSessionsPerPrincipal', input.maxSessionsPerPrincipal, 0, problems);
  if (input.recordClientInfo !== undefined && typeof input.recordClientInfo !== 'boolean') problems.push('recordClientInfo must be a boolean');
  if (input.now !== undefined && typeof input.now !== 'function') problems.push(`now must be a function returning epoch milliseconds`);
  const store = resolveStore(input.store, problems);
  const required = store?.requiredMaxInactiveInterval;
  if (required !== undefined && required !== maxInactiveInterval) {
    problems.push(`maxInactiveInterval (${maxInactiveInterval}) must equal the store's rotationPeriod (${required}): rotated tables are dropped after two periods`);
  }

  if (problems.length > 0) throw new SessionConfigError(problems);
  return Object.freeze({
    store: store!,
    secrets,
    cookie,
    idHeader,
    maxInactiveInterval,
    absoluteTimeout,
    touchAfter,
    ignoreUris: ignoreUris.patterns,
    ignoreHeaders: ignoreHeaders.patterns,
    compressThreshold,
    maxSessionBytes,
    compression,
    onStoreError,
    lockPattern,
    lockExpiration,
    lockTimeout,
    onConflict,
    maxCommitRetries,
    logger,
    metrics: createMetrics(statsd, logger),
    logSessionContents: input.logSessionContents ?? false,
    redact: new Set(Array.isArray(redact) ? redact : []),
    attributeFilter: attributeFilter.patterns[0],
    maxSessionsPerPrincipal,
    recordClientInfo: input.recordClientInfo ?? false,
    now: input.now ?? Date.now,
  });
}

function resolveStore(store: unknown, problems: string[]): SessionStore | undefined {
  if (store === undefined) {
    const env = process.env['NODE_ENV'];
    if (env === 'test' || env === 'development') return new MemoryStore();
    problems.push(`store is required (e.g. new DynamoDbStore({ tableName, region })); ` +
      `the in-memory default is only used when NODE_ENV is 'test' or 'development' (it is ${env === undefined ? 'unset' : `'${env}'`})`);
    return undefined;
  }
  if (!(store instanceof SessionStore)) problems.push(`store must be a SessionStore (DynamoDbStore, MemoryStore or a subclass), got ${describe(store)}`);
  return store as SessionStore;
}

function resolveSecrets(value: unknown, problems: string[]): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push('secrets is required: one or more strings of at least 32 bytes (the first signs, all verify)');
    return [];
  }
  list.forEach((s: unknown, i) => {
    if (typeof s !== 'string') problems.push(`secrets[${i}] must be a string, got ${describe(s)}`);
    else if (Buffer.byteLength(s) < DEFAULTS.minSecretBytes) {
      problems.push(`secrets[${i}] is ${Buffer.byteLength(s)} bytes; use at least ${DEFAULTS.minSecretBytes} random bytes (e.g. openssl rand -base64 48)`);
    }
  });
  return [...(list as string[])];
}

function resolveCookie(value: CookieOptions | undefined, problems: string[]): ResolvedCookieOptions {
  const c: CookieOptions = value ?? {};
  if (typeof c !== 'object' || c === null) {
    problems.push(`cookie must be an object, got ${describe(c)}`);
  } else {
    for (const key of Object.keys(c)) if (!KNOWN_COOKIE_OPTIONS.has(key)) problems.push(`unknown option "cookie.${key}"`);
  }
  const name = c.name ?? DEFAULTS.cookieName;
  if (typeof name !== 'string' || !TOKEN.test(name)) problems.push(`cookie.name must be a cookie name token, got ${describe(name)}`);
  const secure = c.secure ?? 'auto';
  if (secure !== true && secure !== false && secure !== 'auto') problems.push(`cookie.secure must be true, false or 'auto'`);
  const sameSite = c.sameSite ?? 'lax';
  if (!['lax', 'strict', 'none', false].includes(sameSite)) problems.push(`cookie.sameSite must be 'lax', 'strict', 'none' or false`);
  const path = c.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/') || /[;\s]/.test(path)) problems.push(`cookie.path must start with "/" and contain no ";" or spaces`);
  if (c.domain !== undefined && (typeof c.domain !== 'string' || !/^\.?[A-Za-z0-9.-]+$/.test(c.domain))) {
    problems.push(`cookie.domain must be a host name, got ${describe(c.domain)}`);
  }
  if (c.maxAge !== undefined && !(Number.isInteger(c.maxAge) && c.maxAge > 0)) problems.push(`cookie.maxAge must be a positive whole number of seconds`);
  if (c.httpOnly !== undefined && typeof c.httpOnly !== 'boolean') problems.push(`cookie.httpOnly must be a boolean`);
  if (sameSite === 'none' && secure !== true) problems.push(`cookie.sameSite 'none' requires cookie.secure: true (browsers drop SameSite=None cookies without Secure)`);
  if (typeof name === 'string' && name.startsWith('__Host-') && (secure !== true || path !== '/' || c.domain !== undefined)) {
    problems.push(`a "__Host-" cookie needs secure: true, path: '/' and no domain`);
  }
  if (typeof name === 'string' && name.startsWith('__Secure-') && secure !== true) problems.push(`a "__Secure-" cookie needs secure: true`);
  return Object.freeze({ name, httpOnly: c.httpOnly ?? true, secure, sameSite, path, domain: c.domain, maxAge: c.maxAge });
}

const LOCK_EVERYTHING = /^/;

function resolveLocking(value: SessionOptions['locking'], problems: string[]): RegExp | undefined {
  if (value === undefined || value === 'none') return undefined;
  if (value === 'all') return LOCK_EVERYTHING;
  if (typeof value === 'object' && value !== null && 'uriPattern' in value) {
    const { patterns, problems: found } = compilePatterns('locking.uriPattern', value.uriPattern);
    problems.push(...found);
    return patterns[0];
  }
  problems.push(`locking must be 'none', 'all' or { uriPattern } (a regex over "METHOD /path"), got ${describe(value)}`);
  return undefined;
}

function resolveLogger(value: unknown, problems: string[]): Logger {
  if (value === undefined) return defaultLogger;
  const l = value as Partial<Logger>;
  const missing = (['debug', 'info', 'warn', 'error'] as const).filter((m) => typeof l?.[m] !== 'function');
  if (missing.length > 0) {
    problems.push(`logger must have debug, info, warn and error methods (missing: ${missing.join(', ')})`);
    return defaultLogger;
  }
  return l as Logger;
}
