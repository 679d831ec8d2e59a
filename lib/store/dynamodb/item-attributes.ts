/** Attribute names of a session item (docs/dynamodb.md, "Storage layout"). */
export const ATTR = {
  key: 'sessionId',
  data: 'data',
  version: 'version',
  createdAt: 'createdAt',
  lastAccessedAt: 'lastAccessedAt',
  expiresAt: 'expiresAt',
  absoluteExpiresAt: 'absoluteExpiresAt',
  maxInactiveInterval: 'maxInactiveInterval',
  writeToken: 'writeToken',
  /** The tokens of writes that may never land any more (fences.ts): their answer was lost, and they were fenced. */
  fences: 'fences',
  principal: 'principal',
  lockOwner: 'lockOwner',
  lockExpires: 'lockExpires',
  /** Epoch ms of the last login(). */
  authenticatedAt: 'authenticatedAt',
  /** recordClientInfo: the client that created the session or last logged in with it. */
  userAgent: 'userAgent',
  ip: 'ip',
  // The split layout (docs/dynamodb.md, "Item layouts"):
  /** The sort key: '#' for the head, 'a#<name>' for an attribute's part. */
  part: 'part',
  /** Head: name -> the head version that last claimed the part (its content is ordered by it). */
  parts: 'parts',
  /**
   * Head: name -> the head version just before the attribute's first claim since it became a part: content
   * written before that (a leftover of an earlier time the attribute was a part) is never read.
   */
  partSince: 'partSince',
  /** Head: name -> [a hash of its claimed content, when it was claimed (epoch ms)]. */
  partInfo: 'partInfo',
  /** Head: no part expires before this (epoch seconds); the head's expiresAt may not pass it until the parts are extended. */
  partsExpireAt: 'partsExpireAt',
  /** Part: the attribute's stored value. */
  value: 'value',
  /** Part: the claim version its content belongs to. */
  partVersion: 'v',
  /** Part: the highest claim fenced on it (split-parts.ts): no content of that claim or an earlier one lands after it. */
  partFence: 'f',
  /** Part: the attribute name, when it is too long for the sort key. */
  name: 'name',
  /** A move record (session-moves.ts): the keys a regenerate() or login() moved the session to (a string set). */
  movedTo: 'movedTo',
} as const;

/**
 * The sparse index behind findByPrincipal and otherSessions(): only sessions with a principal are in it, and
 * it projects what "your devices" lists, so the list is one Query.
 */
export const PRINCIPAL_INDEX = 'principal-sessions';
/**
 * The index tables made before account controls have: keyed the same, projecting no client info. It keeps
 * working; docs/dynamodb.md ("Moving to the principal-sessions index") says how a table gets the new one.
 */
export const LEGACY_PRINCIPAL_INDEX = 'principal-index';

/** What the principal index projects besides its key (and, in the split layout, the part registry). */
export const PRINCIPAL_INDEX_PROJECTION = [ATTR.createdAt, ATTR.lastAccessedAt, ATTR.expiresAt, ATTR.userAgent, ATTR.ip];

/** How a table lays sessions out: one item each, or a head plus one item per large attribute. */
export type ItemLayout = 'single' | 'split';

/** The head item's sort key in the split layout. */
export const HEAD_PART = '#';

/** A move record's key: this + the moved session's old key (session-moves.ts). No session key has a '#'. */
export const MOVED_KEY_PREFIX = 'moved#';
