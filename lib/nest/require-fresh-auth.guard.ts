import { applyDecorators, CanActivate, ExecutionContext, UseGuards } from '@nestjs/common';
import { checkFreshAuthLimit } from '../core/account';
import { SessionError } from '../core/errors';
import type { AnyRequest } from './request-state';
import { SessionHttpException } from './session-http-exception';
import { valveOf } from './session-valve';

/** The guard behind @RequireFreshAuth; it needs nothing injected, so it composes with any module's own guards. */
export class FreshAuthGuard implements CanActivate {
  constructor(readonly maxAgeSeconds: number) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Fails closed: a GraphQL resolver or a message handler has no HTTP session to check.
    if (context.getType() !== 'http') throw new Error('@RequireFreshAuth guards HTTP routes only: this handler has no HTTP session to check');
    const http = context.switchToHttp();
    const req = http.getRequest<AnyRequest>();
    const valve = valveOf(req);
    if (!valve) throw new Error('@RequireFreshAuth needs SessionModule.forRoot() or forRootAsync() imported in the application');
    try {
      await valve.context(req).requireFreshAuth(this.maxAgeSeconds);
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      // As the interceptor answers a session error: its own headers (no-store, Retry-After), and a client error as
      // an HttpException, so Nest answers its status without logging it as a crash.
      valve.resetHeaders(req, http.getResponse<object>(), error.headers);
      throw error.status < 500 ? new SessionHttpException(error) : error;
    }
    return true;
  }
}

/**
 * Step-up re-authentication on a route or controller ("change e-mail"): the handler runs only when the session's
 * user logged in (`session.login()`) within `maxAgeSeconds`; otherwise SessionReauthenticationRequiredError, 401.
 *
 *   @Post('email') @RequireFreshAuth(300) changeEmail(@Session() session: Session) { ... }
 */
export function RequireFreshAuth(maxAgeSeconds: number): MethodDecorator & ClassDecorator {
  return applyDecorators(UseGuards(new FreshAuthGuard(checkFreshAuthLimit(maxAgeSeconds, '@RequireFreshAuth'))));
}
