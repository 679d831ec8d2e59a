import { applyDecorators, CanActivate, ExecutionContext, UseGuards } from '@nestjs/common';
import { assertFreshAuth, checkFreshAuthLimit } from '../core/account';
import { SessionError } from '../core/errors';
import type { AnyRequest } from './request-state';
import { SessionHttpException } from './session-http-exception';
import { sessionOf } from './session.decorator';
import { valveOf } from './session-valve';

/** The guard behind @RequireFreshAuth; it needs nothing injected, so it composes with any module's own guards. */
export class FreshAuthGuard implements CanActivate {
  constructor(readonly maxAgeSeconds: number) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    try {
      assertFreshAuth(await sessionOf(context), this.maxAgeSeconds);
    } catch (error) {
      if (!(error instanceof SessionError) || error.status >= 500) throw error;
      // As the interceptor does for a session error: an HttpException, so Nest answers its status without logging it as a crash.
      const http = context.switchToHttp();
      valveOf(http.getRequest<AnyRequest>())?.resetHeaders(http.getRequest<AnyRequest>(), http.getResponse<object>(), error.headers);
      throw new SessionHttpException(error);
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
