import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse } from './error-response';
import type { SessionValve } from './session-valve';

/**
 * Express has no async hook before a response goes out, so, as express-session
 * does, `res.end` waits for the valve: a guard or an exception filter may end
 * a request whose session was loaded but never reached the interceptor.
 */
export function endAfterCommit(valve: SessionValve, req: IncomingMessage, res: ServerResponse): void {
  const end = res.end;
  res.end = function endWhenSaved(this: ServerResponse, ...args: unknown[]): ServerResponse {
    const callEnd = (): unknown => (end as (...a: unknown[]) => unknown).apply(res, args);
    valve.finish(req, res).then(callEnd, (error: unknown) => {
      if (res.headersSent) return callEnd();
      // The handler's answer was computed, but its session was not stored: it must not go out.
      const { status, headers, body } = errorResponse(error);
      res.statusCode = status;
      res.removeHeader('Content-Length');
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      return (end as (chunk: string) => unknown).call(res, body);
    });
    return res;
  } as ServerResponse['end'];
}
