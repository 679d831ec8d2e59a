import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { errorResponse } from './error-response';
import type { SessionValve } from './session-valve';

interface FastifyRequestLike {
  raw: IncomingMessage;
  protocol?: string;
  ip?: string;
}
interface FastifyReplyLike {
  code(status: number): unknown;
  header(name: string, value: unknown): unknown;
  getHeaders(): OutgoingHttpHeaders;
  removeHeader(name: string): unknown;
  raw: ServerResponse;
}
interface FastifyLike {
  addHook(name: 'preHandler', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: () => void) => void): unknown;
  addHook(name: 'onSend', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, payload: unknown) => Promise<unknown>): unknown;
}

/**
 * Fastify's onSend runs before the headers go out and may be async: the place
 * to commit a session that a guard or exception filter left uncommitted.
 */
export function registerFastifyHooks(instance: unknown, valve: SessionValve): void {
  const fastify = instance as FastifyLike;
  // The last hook before Nest's guards and handler: what the reply carries now (CORS, helmet) is not the app's answer.
  fastify.addHook('preHandler', (request, reply, done) => {
    valve.noteBaseline(request.raw, reply);
    valve.setClientIp(request.raw, request.ip);
    done();
  });
  fastify.addHook('onSend', async (request, reply, payload) => {
    try {
      await valve.finish(request.raw, reply, request.protocol === 'https');
      return payload;
    } catch (error) {
      // The answer a guard or filter made was for a session that was not stored: neither it nor its headers go out.
      const { status, headers, body } = errorResponse(error);
      valve.reportReplacedResponse(error);
      reply.code(status);
      valve.resetHeaders(request.raw, reply, headers);
      return body;
    }
  });
}
