import type { OutgoingHttpHeaders } from 'node:http';

/** Where an adapter's response keeps its headers: a Node response, or a wrapper around a platform's reply. */
export interface HeaderTarget {
  getHeaders(): OutgoingHttpHeaders;
  removeHeader(name: string): void;
  /** Replaces the header's value, never appends to it. */
  setHeader(name: string, value: NonNullable<HeaderValue>): void;
}

type HeaderValue = OutgoingHttpHeaders[string];

/** Response headers by lower-case name, as they were at one moment. */
export type HeaderSnapshot = Readonly<Record<string, HeaderValue>>;

/** Copies arrays too: platforms append Set-Cookie values to the array they hold. */
export function snapshotHeaders(target: HeaderTarget): HeaderSnapshot {
  const snapshot: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(target.getHeaders())) {
    snapshot[name.toLowerCase()] = Array.isArray(value) ? [...value] : value;
  }
  return snapshot;
}

function sameValue(a: HeaderValue, b: HeaderValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = ([] as Array<string | number>).concat(a ?? []);
    const y = ([] as Array<string | number>).concat(b ?? []);
    return x.length === y.length && x.every((v, i) => String(v) === String(y[i]));
  }
  return String(a) === String(b);
}

/**
 * For an error answer that replaces the app's, on every adapter: the headers go
 * back to what they were before the app's code ran (`baseline`: what earlier
 * middleware such as CORS or helmet set stays), then `headers` are set. So the
 * app's `Location`, its cookies and its `Cache-Control` never go out on an
 * answer they were not meant for.
 */
export function resetHeaders(target: HeaderTarget, baseline: HeaderSnapshot, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(target.getHeaders())) {
    const key = name.toLowerCase();
    if (!(key in baseline) || !sameValue(value, baseline[key])) target.removeHeader(key);
  }
  const now = target.getHeaders();
  for (const [name, value] of Object.entries(baseline)) {
    if (value !== undefined && now[name] === undefined) target.setHeader(name, Array.isArray(value) ? [...value] : value);
  }
  for (const [name, value] of Object.entries(headers)) target.setHeader(name, value);
}
