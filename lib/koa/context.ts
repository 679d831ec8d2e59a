import type { Session } from '../core/session';
import type { SessionContext } from '../core/session-context';

declare module 'koa' {
  interface DefaultContext {
    /** The request's session, loaded from the store on first `await`. Nothing is read if it is never awaited. */
    readonly session: Promise<Session>;
    /** The lifecycle behind `ctx.session` (commit early, check `ignored`, ...). */
    readonly sessionContext: SessionContext;
  }
}
