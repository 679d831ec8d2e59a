import type { IncomingMessage } from 'node:http';
import { errorResponse } from './error-response';
import type { SessionValve } from './session-valve';

interface FastifyLike {
  addHook(
    name: 'onSend',
    hook: (request: { raw: IncomingMessage; protocol?: string }, reply: FastifyReplyLike, payload: unknown) => Promise<unknown>,
  ): unknown;
}
interface FastifyReplyLike {
  code(status: number): unknown;
  header(name: string, value: string): unknown;
  raw: unknown;
}

/**
 * Fastify's onSend runs before the headers go out and may be async: the place
 * to commit a session that a guard or exception filter left uncommitted.
 */
export function registerFastifyHooks(instance: unknown, valve: SessionValve): void {
  (instance as FastifyLike).addHook('onSend', async (request, reply, payload) => {
    try {
      await valve.finish(request.raw, reply, request.protocol === 'https');
      return payload;
    } catch (error) {
      const { status, headers, body } = errorResponse(error);
      reply.code(status);
      for (const [name, value] of Object.entries(headers)) reply.header(name, value);
      return body;
    }
  });
}
