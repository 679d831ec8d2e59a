import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Session as SessionObject, SessionData } from '../core/session';
import type { AnyRequest } from './request-state';
import { valveOf } from './session-valve';

/**
 * `@Session() session` gives the handler the loaded session; `@Session('user')`
 * one attribute. Routes without it load nothing. (Not `@nestjs/common`'s Session.)
 */
export const Session: (attribute?: string) => ParameterDecorator = createParamDecorator(
  async (attribute: string | undefined, ctx: ExecutionContext): Promise<unknown> => {
    const session = await sessionOf(ctx, '@Session()');
    return attribute === undefined ? session : session[attribute];
  },
);

/**
 * The request's session from a guard, interceptor or filter, without touching the request object:
 * `const session = await sessionOf(context)`. Loads it on first use, as `@Session()` does.
 */
export function sessionOf(context: ExecutionContext, caller = 'sessionOf()'): Promise<SessionObject> {
  const req = context.switchToHttp().getRequest<AnyRequest>();
  const valve = valveOf(req);
  if (!valve) return Promise.reject(new Error(`${caller} needs SessionModule.forRoot() or forRootAsync() imported in the application`));
  return valve.get(req);
}

/** The type of a `@Session()` parameter: `@Session() session: Session<{ user?: User }>`. */
export type Session<T extends object = SessionData> = SessionObject<T>;
