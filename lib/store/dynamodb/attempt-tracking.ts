import type { DynamoDBClient, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-dynamodb';
import type { FinalizeRequestMiddleware } from '@smithy/types';
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
