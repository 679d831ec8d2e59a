import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse } from './error-response';
import type { SessionValve } from './session-valve';

/**
 * Express has no async hook before a response goes out, so, as express-session
 * does, `res.end` waits for the valve: a guard or an exception filter may end
 * a request whose session was loaded but never reached the interceptor.
 */
export function endAfterCommit(valve: SessionValve, req: IncomingMessage, res: ServerResponse): void {
  const end = res.end.bind(res);
  res.end = function endWhenSaved(this: ServerResponse, ...args: unknown[]): ServerResponse {
    const callEnd = (): unknown => (end as (...a: unknown[]) => unknown).apply(res, args);
    void valve.finish(req, res).then(callEnd, (error: unknown) => {
      if (res.headersSent) {
        // The status line already went out (the handler wrote it itself): cutting the connection is the only way
        // left to tell the client its request did not complete, rather than finishing a 2xx for an unstored change.
        valve.reportReplacedResponse(error);
        return res.destroy();
      }
      // The handler's answer was computed, but its session was not stored: neither the answer nor its headers may go out.
      const { status, headers, body } = errorResponse(error);
      valve.reportReplacedResponse(error);
      res.statusCode = status;
      valve.resetHeaders(req, res, headers);
      res.removeHeader('Content-Length');
      return (end as (chunk: string) => unknown).call(res, body);
    }).catch((error: unknown) => {
      // Only a throwing logger or socket gets here; the response must still end rather than hang.
      if (!res.writableEnded) res.destroy(error instanceof Error ? error : undefined);
    });
    return res;
  } as ServerResponse['end'];
}
