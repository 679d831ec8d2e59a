import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionContext } from '../core/session-context';

/** Express and Fastify request objects both lead to Node's IncomingMessage. */
export type AnyRequest = IncomingMessage | { raw: IncomingMessage };

export function rawRequest(req: AnyRequest): IncomingMessage {
  return 'raw' in req && req.raw ? req.raw : (req as IncomingMessage);
}

/** What the valve keeps for one request between the middleware and the response. */
export interface RequestState {
  readonly context: SessionContext;
  readonly response: ServerResponse;
  /** Set by the Fastify hook, which knows the protocol after trustProxy rules. */
  secure: boolean;
  /** The client's address as Fastify resolved it (trustProxy); Express's req.ip is read when this is unset. */
  ip?: string | undefined;
  commits: number;
}
