import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import type { StoredSession, StoredValue } from '../../core/session-store';
import { ATTR } from './item-attributes';

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
