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
  principal: 'principal',
  lockOwner: 'lockOwner',
  lockExpires: 'lockExpires',
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
  /** Part: the attribute name, when it is too long for the sort key. */
  name: 'name',
} as const;

/** The sparse index behind findByPrincipal: only sessions with a principal are in it. */
export const PRINCIPAL_INDEX = 'principal-index';

/** How a table lays sessions out: one item each, or a head plus one item per large attribute. */
export type ItemLayout = 'single' | 'split';

/** The head item's sort key in the split layout. */
export const HEAD_PART = '#';
