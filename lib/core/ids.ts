import { createHash, randomBytes } from 'node:crypto';

/** 32 bytes from the CSPRNG, base64url without padding: always 43 characters. */
export const SESSION_ID_LENGTH = 43;
/** 32 bytes of id, or the 32 bytes of its SHA-256: both 43 base64url characters. */
const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;

export function generateSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function isWellFormedSessionId(value: string): boolean {
  return value.length === SESSION_ID_LENGTH && BASE64URL_32_BYTES.test(value);
}

/** Whether a value has the shape of a storage key (what storageKeyOf returns): a handle, or a key in the table. */
export function isStorageKey(value: string): boolean {
  return BASE64URL_32_BYTES.test(value);
}

/** The table only ever sees this digest, so a leaked table or log does not leak live ids. */
export function storageKeyOf(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}
