import type { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';
import { EARLIER_ATTEMPT_AMBIGUOUS, isAmbiguous } from './store-errors';

const NAME = 'dynamoSessionAttemptTracking';
const RETRY = 'retryMiddleware';

/**
 * The SDK's retry loop throws only the last attempt's error: an attempt that
 * DynamoDB applied but whose answer was lost, followed by throttled retries,
 * ends in a plain throttle. This middleware runs inside the retry loop, once per
 * attempt, and marks every later attempt's error (so the final one) with
 * EARLIER_ATTEMPT_AMBIGUOUS once an attempt failed ambiguously; `mayHaveApplied`
 * reads it. `$metadata.attempts > 1` would say the same for less code, but also
 * for calls whose every attempt was a definite refusal, each costing a needless read-back.
 */
/** The `$metadata` of calls that succeeded after an attempt whose answer was lost: that attempt may still land. */
const succeededAfterAmbiguous = new WeakSet<object>();

/** Whether an earlier attempt of this successful call may have been, or may still be, applied too. */
export function earlierAttemptMayLand(output: { $metadata?: object }): boolean {
  return output.$metadata !== undefined && succeededAfterAmbiguous.has(output.$metadata);
}

export function trackAttempts(client: DynamoDBClient): void {
  const stack = client.middlewareStack;
  // A client built without the SDK's retries makes one attempt: nothing earlier to remember.
  if (!stack.identify().some((entry) => entry.startsWith(`${RETRY} `))) return;
  const middleware: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => {
    // One closure per call: the retry loop calls the returned handler once per attempt.
    let ambiguousEarlier = false;
    return async (args) => {
      try {
        const result = await next(args);
        const metadata = (result.output as { $metadata?: object } | undefined)?.$metadata;
        if (ambiguousEarlier && metadata !== undefined) succeededAfterAmbiguous.add(metadata);
        return result;
      } catch (e) {
        if (ambiguousEarlier && typeof e === 'object' && e !== null) Object.defineProperty(e, EARLIER_ATTEMPT_AMBIGUOUS, { value: true });
        if (isAmbiguous(e)) ambiguousEarlier = true;
        throw e;
      }
    };
  };
  stack.addRelativeTo(middleware, { relation: 'after', toMiddleware: RETRY, name: NAME, override: true });
}

/**
 * For a write that creates an item: no SDK retry after an attempt whose answer was lost. A create can only be
 * fenced while its item exists; were the retry to succeed, the lost attempt could still land after the session was
 * destroyed and bring it back. Without the retry, the call fails as ambiguous, the caller fences and checks it
 * (conditional-write.ts), and a create that had not landed is answered 503, its id never handed out.
 */
export function noRetryAfterLostAnswer<I extends object, O extends object>(command: { middlewareStack: MiddlewareStack<I, O> }): void {
  const middleware: FinalizeRequestMiddleware<I, O> = (next) => async (args) => {
    try {
      return await next(args);
    } catch (e) {
      if (!isAmbiguous(e)) throw e;
      // Still ambiguous to this library (no answer: $metadata without a status), but nothing the SDK retries.
      throw Object.assign(new Error((e as Error).message), { name: 'LostAnswerNotRetried', $metadata: {} });
    }
  };
  command.middlewareStack.addRelativeTo(middleware, { relation: 'after', toMiddleware: RETRY, name: 'dynamoSessionNoRetryAfterLostAnswer', override: true });
}
