import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { NewSession, sameStoredValue, SessionUpdate, StoredSession, StoredValue } from '../../core/session-store';
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
    authenticatedAt: optionalNumber(ATTR.authenticatedAt),
    userAgent: item[ATTR.userAgent] as string | undefined,
    ip: item[ATTR.ip] as string | undefined,
    lockOwner: item[ATTR.lockOwner] as string | undefined,
    lockExpires: optionalNumber(ATTR.lockExpires),
  };
}

/** What a new session's item (or head) carries besides its attributes: its times, version 1, principal, login and client. */
export function setNewSessionFields(u: UpdateExpressionBuilder, session: NewSession): UpdateExpressionBuilder {
  u.set(u.name(ATTR.createdAt), session.createdAt)
    .set(u.name(ATTR.lastAccessedAt), session.lastAccessedAt)
    .set(u.name(ATTR.expiresAt), session.expiresAt)
    .set(u.name(ATTR.version), 1);
  if (session.absoluteExpiresAt !== undefined) u.set(u.name(ATTR.absoluteExpiresAt), session.absoluteExpiresAt);
  if (session.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), session.maxInactiveInterval);
  if (session.principal !== undefined) u.set(u.name(ATTR.principal), session.principal);
  if (session.authenticatedAt !== undefined) u.set(u.name(ATTR.authenticatedAt), session.authenticatedAt);
  if (session.userAgent !== undefined) u.set(u.name(ATTR.userAgent), session.userAgent);
  if (session.ip !== undefined) u.set(u.name(ATTR.ip), session.ip);
  return u;
}

/** An update's changes besides attributes and times (both layouts write them to the item, or the head). */
export function setMetadataChanges(u: UpdateExpressionBuilder, update: SessionUpdate): void {
  if (update.maxInactiveInterval !== undefined) u.set(u.name(ATTR.maxInactiveInterval), update.maxInactiveInterval);
  if (update.principal === null) u.remove(u.name(ATTR.principal));
  else if (update.principal !== undefined) u.set(u.name(ATTR.principal), update.principal);
  if (update.authenticatedAt === null) u.remove(u.name(ATTR.authenticatedAt));
  else if (update.authenticatedAt !== undefined) u.set(u.name(ATTR.authenticatedAt), update.authenticatedAt);
}

/** Whether the item carries the update's attribute values and metadata (an ambiguous write that did land). */
export function reflectsChanges(current: StoredSession, update: SessionUpdate): boolean {
  return [...update.set].every(([name, value]) => sameStoredValue(current.data[name], value)) &&
    update.remove.every((name) => current.data[name] === undefined) && reflectsMetadata(current, update);
}

/** Whether the item (or head) carries the update's metadata changes. */
export function reflectsMetadata(current: StoredSession, update: SessionUpdate): boolean {
  return (update.principal === undefined || current.principal === (update.principal ?? undefined)) &&
    (update.authenticatedAt === undefined || current.authenticatedAt === (update.authenticatedAt ?? undefined)) &&
    (update.maxInactiveInterval === undefined || current.maxInactiveInterval === update.maxInactiveInterval);
}
