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
} as const;

/** The sparse index behind findByPrincipal: only sessions with a principal are in it. */
export const PRINCIPAL_INDEX = 'principal-index';
