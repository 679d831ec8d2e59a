import { parse } from 'cookie';
import { storageKeyOf } from '../../lib/core/ids';

/** The `name=value` pairs of a response's Set-Cookie headers. */
export function setCookies(headers: Record<string, unknown>): string[] {
  const raw = headers['set-cookie'];
  return raw === undefined ? [] : ([] as string[]).concat(raw as string | string[]);
}

export function sessionCookieValue(headers: Record<string, unknown>, name = 'sid'): string | undefined {
  for (const header of setCookies(headers)) {
    const pair = parse(header.split(';')[0]!);
    if (name in pair) return pair[name];
  }
  return undefined;
}

/** The table key of the session a signed cookie value names: SHA-256 of its id part. */
export function keyOf(cookieValue: string): string {
  return storageKeyOf(cookieValue.split('.')[0]!);
}

/**
 * The value with exactly one character changed to another base64url character,
 * inside the signature where every bit counts: always tampered, whatever the value.
 */
export function withOneCharacterFlipped(value: string, at = value.length - 20): string {
  const flipped = value[at] === 'A' ? 'B' : 'A';
  return `${value.slice(0, at)}${flipped}${value.slice(at + 1)}`;
}
