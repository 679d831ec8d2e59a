import type { Middleware, ParameterizedContext } from 'koa';
import { checkFreshAuthLimit } from '../core/account';

/**
 * Step-up re-authentication for sensitive routes ("change e-mail"): the rest of the chain runs only when the
 * session's user logged in (`session.login()`) within `maxAgeSeconds`. Otherwise the request fails with
 * SessionReauthenticationRequiredError (401) before the handler runs. Mount it behind `session()`.
 *
 *   router.post('/email', requireFreshAuth(300), changeEmail);
 */
export function requireFreshAuth(maxAgeSeconds: number): Middleware {
  const limit = checkFreshAuthLimit(maxAgeSeconds, 'requireFreshAuth');
  return async function freshAuthRequired(ctx: ParameterizedContext, next: () => Promise<unknown>): Promise<void> {
    await ctx.sessionContext.requireFreshAuth(limit);
    await next();
  };
}
