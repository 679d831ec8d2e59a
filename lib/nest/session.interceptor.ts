import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { catchError, concatMap, Observable } from 'rxjs';
import { SessionError } from '../core/errors';
import type { AnyRequest } from './request-state';
import { SessionHttpException } from './session-http-exception';
import { SessionValve } from './session-valve';

/**
 * Commits after the handler and before Nest sends the response, so a store
 * failure reaches Nest's exception filters as the typed error it is.
 */
@Injectable()
export class SessionInterceptor implements NestInterceptor {
  constructor(@Inject(SessionValve) private readonly valve: SessionValve) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<AnyRequest & { protocol?: string }>();
    const res = http.getResponse<object>();
    if (!this.valve.isTracked(req)) return next.handle();
    if (typeof req.protocol === 'string') this.valve.setSecure(req, req.protocol === 'https');
    return next.handle().pipe(
      concatMap(async (value: unknown) => {
        await this.valve.commit(req, res);
        return value;
      }),
      catchError(async (error: unknown) => {
        if (!(error instanceof SessionError)) {
          await this.valve.commitAfterFailure(req, res);
          throw error;
        }
        // The session error (from the load in a parameter decorator, or from the commit) is the answer now, not
        // the handler's: the headers set for that answer (@Header, res.setHeader) go, the error's own (Retry-After) come.
        this.valve.resetHeaders(req, res, error.headers);
        throw error.status < 500 ? new SessionHttpException(error) : error;
      }),
    );
  }
}
