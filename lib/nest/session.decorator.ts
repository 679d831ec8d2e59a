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
    const req = ctx.switchToHttp().getRequest<AnyRequest>();
    const valve = valveOf(req);
    if (!valve) throw new Error('@Session() needs SessionModule.forRoot() or forRootAsync() imported in the application');
    const session = await valve.get(req);
    return attribute === undefined ? session : session[attribute];
  },
);

/** The type of a `@Session()` parameter: `@Session() session: Session<{ user?: User }>`. */
export type Session<T extends object = SessionData> = SessionObject<T>;
