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
