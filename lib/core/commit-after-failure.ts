import type { Logger } from './logger';
import type { SessionContext } from './session-context';
import type { CommitResult } from './request-types';

/**
 * After the handler threw, the state it left is still saved, as the Tomcat
 * valves save in their `finally`. The handler's error stays the answer: a
 * commit that fails too, or headers that cannot be set, are logged, never
 * thrown over it, so the client learns what went wrong first. Both adapters
 * call this; only where the headers go differs (`apply`: the error's
 * `headers` for Koa, the response for Nest).
 *
 * The log line names the method only: paths can carry tokens.
 */
export async function commitAfterFailure(context: SessionContext, logger: Logger, apply: (result: CommitResult) => void): Promise<void> {
  try {
    apply(await context.commit());
  } catch (commitError) {
    logger.error(`session commit failed after the handler failed (${context.request.method})`, commitError);
  }
}
