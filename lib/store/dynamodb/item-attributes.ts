/** Attribute names of a session item (see DESIGN.md, storage layout). */
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
  lockOwner: 'lockOwner',
  lockExpires: 'lockExpires',
} as const;
