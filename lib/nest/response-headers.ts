import type { ServerResponse } from 'node:http';
import type { HeaderList } from '../core/id-transport';

/** A Fastify reply, as far as we need it. */
interface ReplyLike {
  header(name: string, value: string): unknown;
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
