import { parse } from 'cookie';

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
