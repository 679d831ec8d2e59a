import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { NewSession, StoredSession, StoredValue } from '../../core/session-store';
import { ATTR } from './item-attributes';
import type { UpdateExpressionBuilder } from './update-expression';

type Item = Record<string, NativeAttributeValue>;

/** An item as lib-dynamodb returns it, as the store contract describes it. */
export function toStoredSession(item: Item): StoredSession {
  const optionalNumber = (name: string): number | undefined => (item[name] === undefined ? undefined : Number(item[name]));
  return {
    data: (item[ATTR.data] ?? {}) as Record<string, StoredValue>,
    version: Number(item[ATTR.version] ?? 0),
    createdAt: Number(item[ATTR.createdAt]),
    lastAccessedAt: Number(item[ATTR.lastAccessedAt]),
    expiresAt: Number(item[ATTR.expiresAt]),
    absoluteExpiresAt: optionalNumber(ATTR.absoluteExpiresAt),
    maxInactiveInterval: optionalNumber(ATTR.maxInactiveInterval),
    principal: item[ATTR.principal] as string | undefined,
    lockOwner: item[ATTR.lockOwner] as string | undefined,
    lockExpires: optionalNumber(ATTR.lockExpires),
  };
}

/** What a new session's item (or head) carries besides its attributes: its times, version 1, principal. */
export function setNewSessionFields(u: UpdateExpressionBuilder, session: NewSession): UpdateExpressionBuilder {
  u.set(u.name(ATTR.createdAt), session.createdAt)
    .set(u.name(ATTR.lastAccessedAt), session.lastAccessedAt)
    .set(u.name(ATTR.expiresAt), session.expiresAt)
    .set(u.name(ATTR.version), 1);
  if (session.absoluteExpiresAt !== undefined) u.set(u.name(ATTR.absoluteExpiresAt), session.absoluteExpiresAt);
  if (session.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), session.maxInactiveInterval);
  if (session.principal !== undefined) u.set(u.name(ATTR.principal), session.principal);
  return u;
}
