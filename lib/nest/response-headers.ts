import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HeaderList } from '../core/id-transport';
import type { HeaderTarget } from '../core/response-headers';

/** A Fastify reply, as far as we need it. */
interface ReplyLike {
  header(name: string, value: unknown): unknown;
  getHeaders(): OutgoingHttpHeaders;
  removeHeader(name: string): unknown;
  raw: ServerResponse;
}

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

/**
 * The headers of whatever response object the platform gives, for the shared
 * snapshot and reset: a Fastify reply keeps headers in its own store until it
 * sends, besides those set on its Node response, and its `header` appends Set-Cookie.
 */
export function headerTarget(response: object): HeaderTarget {
  if (!isReply(response)) return response as ServerResponse;
  const remove = (name: string): void => {
    response.removeHeader(name);
    response.raw.removeHeader(name);
  };
  return {
    getHeaders: () => response.getHeaders(),
    removeHeader: remove,
    setHeader: (name, value) => {
      remove(name);
      response.header(name, value);
    },
  };
}
