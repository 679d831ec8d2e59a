import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HeaderList } from '../core/id-transport';

/** A Fastify reply, as far as we need it. */
interface ReplyLike {
  header(name: string, value: unknown): unknown;
  getHeaders(): OutgoingHttpHeaders;
  removeHeader(name: string): unknown;
  raw: ServerResponse;
}

type HeaderValue = OutgoingHttpHeaders[string];

/** Response headers by lower-case name, as they were at one moment. */
export type HeaderSnapshot = Readonly<Record<string, HeaderValue>>;

function isReply(response: object): response is ReplyLike {
  return typeof (response as ReplyLike).header === 'function' && (response as ReplyLike).raw !== undefined;
}

/**
 * Adds headers to whatever response object the platform gives: a Fastify reply
 * (whose `header` appends Set-Cookie), or a Node/Express response.
 */
export function addResponseHeaders(response: object, headers: HeaderList): void {
  for (const [name, value] of headers) {
    if (isReply(response)) {
      response.header(name, value);
      continue;
    }
    const res = response as ServerResponse;
    if (res.headersSent) return;
    if (name.toLowerCase() === 'set-cookie') {
      const existing = res.getHeader('set-cookie');
      res.setHeader('Set-Cookie', ([] as Array<string | number>).concat(existing ?? [], value).map(String));
    } else {
      res.setHeader(name, value);
    }
  }
}

/** A Fastify reply keeps headers in its own store until it sends, besides those set on its Node response. */
function currentHeaders(response: object): OutgoingHttpHeaders {
  return isReply(response) ? response.getHeaders() : (response as ServerResponse).getHeaders();
}

function removeHeader(response: object, name: string): void {
  if (isReply(response)) {
    response.removeHeader(name);
    response.raw.removeHeader(name);
  } else {
    (response as ServerResponse).removeHeader(name);
  }
}

/** Replaces, never appends: a reply's `header` would add to an existing Set-Cookie. */
function putHeader(response: object, name: string, value: NonNullable<HeaderValue>): void {
  removeHeader(response, name);
  if (isReply(response)) response.header(name, value);
  else (response as ServerResponse).setHeader(name, value);
}

/** Copies arrays too: Fastify appends Set-Cookie values to the array it holds. */
export function snapshotHeaders(response: object): HeaderSnapshot {
  const snapshot: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(currentHeaders(response))) {
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
 * For an error answer that replaces the app's: the headers go back to what they
 * were before the app's code ran (`baseline`: what earlier middleware such as
 * CORS or helmet set stays), then `headers` are set. So the app's `Location`,
 * its cookies and its `Cache-Control` never go out on an answer they were not meant for.
 */
export function resetResponseHeaders(response: object, baseline: HeaderSnapshot, headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(currentHeaders(response))) {
    const key = name.toLowerCase();
    if (!(key in baseline) || !sameValue(value, baseline[key])) removeHeader(response, key);
  }
  const now = currentHeaders(response);
  for (const [name, value] of Object.entries(baseline)) {
    if (value !== undefined && now[name] === undefined) putHeader(response, name, Array.isArray(value) ? [...value] : value);
  }
  for (const [name, value] of Object.entries(headers)) putHeader(response, name, value);
}
