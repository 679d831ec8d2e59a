import type { Logger } from './logger';
import type { CommitResult, SessionContext } from './session-context';

/**
 * After the handler threw, the state it left is still saved, as the Tomcat
 * valves save in their `finally`. The handler's error stays the answer: a
 * commit that fails too is logged, never thrown over it, so the client learns
 * what went wrong first. Both adapters call this; only where the resulting
 * headers go differs (Koa: the error's `headers`; Nest: the response).
 *
 * Resolves with the commit's headers, or undefined when the commit failed.
 */
export async function commitAfterFailure(context: SessionContext, logger: Logger): Promise<CommitResult | undefined> {
  try {
    return await context.commit();
  } catch (commitError) {
    const { method, path } = context.request;
    logger.error(`session commit failed after the handler failed (${method} ${path})`, commitError);
    return undefined;
  }
}
