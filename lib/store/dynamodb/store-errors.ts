import { SessionError, SessionStoreError, SessionStoreUnavailableError, SessionTooLargeError, TableNotFoundError } from '../../core/errors';
import { MAX_ITEM_BYTES } from '../../core/item-size';
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException',
]);
const TRANSIENT_NAMES = new Set(['AbortError', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
  'InternalServerError', 'ServiceUnavailable', 'ServiceUnavailableException', 'NetworkingError']);
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNABORTED']);

/**
 * What a failed SDK call means. 'transient': timed out, dropped, 5xx, or never
 * answered (no HTTP status at all) — the write may have been applied.
 * 'throttled' and the rest are definite answers.
 */
type Failure = 'condition' | 'missing-table' | 'throttled' | 'transient' | 'too-large' | 'too-many-changes' | 'refused';

/**
 * DynamoDB's words for an item over 400 KB: "Item size has exceeded the maximum
 * allowed size" (PutItem) and "Item size to update has exceeded the maximum allowed size" (UpdateItem).
 */
const ITEM_TOO_LARGE = /\bitem size (to update )?has exceeded the maximum allowed size/i;
/** An UpdateExpression over DynamoDB's 4 KB: a request that changed hundreds of attributes at once. */
const EXPRESSION_TOO_LARGE = /\bexpression size has exceeded the maximum allowed size/i;

function classify(error: unknown): Failure {
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  if (name === 'ConditionalCheckFailedException') return 'condition';
  if (name === 'ResourceNotFoundException') return 'missing-table';
  if (THROTTLING.has(name)) return 'throttled';
  if (name === 'ValidationException' && ITEM_TOO_LARGE.test(e.message ?? '')) return 'too-large';
  if (name === 'ValidationException' && EXPRESSION_TOO_LARGE.test(e.message ?? '')) return 'too-many-changes';
  const status = e.$metadata?.httpStatusCode ?? 0;
  const noResponse = e.$metadata !== undefined && status === 0;
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_CODES.has(e.code ?? '') || noResponse || status >= 500 || e.$retryable !== undefined) {
    return 'transient';
  }
  return 'refused';
}

/** A failure after which the write may or may not have been applied: the request went out, no answer came back. */
export function isAmbiguous(error: unknown): boolean {
  return classify(error) === 'transient';
}

/**
 * Set by the attempt tracker (see attempt-tracking.ts) on a call's final error
 * when an earlier attempt of the same call failed ambiguously.
 */
export const EARLIER_ATTEMPT_AMBIGUOUS = Symbol('dynamo-session.earlierAttemptAmbiguous');

/**
 * Whether any attempt of the failed call may have been applied: the last
 * attempt's own failure is ambiguous, or an earlier one was (the SDK rethrows
 * only the last attempt's error, e.g. a throttle after an applied, cut-off attempt).
 */
export function mayHaveApplied(error: unknown): boolean {
  const cause = error instanceof SessionStoreError ? error.cause : error;
  return isAmbiguous(cause) || (typeof cause === 'object' && cause !== null && EARLIER_ATTEMPT_AMBIGUOUS in cause);
}

export function isConditionFailure(error: unknown): boolean {
  return classify(error) === 'condition';
}

/** The item as it was when a condition refused the call (ReturnValuesOnConditionCheckFailure: ALL_OLD); undefined: no item. */
export function itemOfConditionFailure(error: unknown): Record<string, NativeAttributeValue> | undefined {
  const raw = (error as { Item?: Parameters<typeof unmarshall>[0] }).Item;
  return raw && unmarshall(raw);
}

/** Where a table is looked for, as error messages name it. */
export interface TableLocation {
  readonly region: string | undefined;
  readonly endpoint?: string | undefined;
}

/** Turns an SDK failure (after its own retries) into the typed error the adapters answer with. */
export function toStoreError(error: unknown, operation: string, tableName: string, where: TableLocation): SessionError {
  if (error instanceof SessionError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  switch (classify(error)) {
    case 'missing-table':
      return new TableNotFoundError(tableName, where.region, { cause: error, endpoint: where.endpoint });
    case 'throttled':
      return new SessionStoreUnavailableError(
        `DynamoDB throttled ${operation} on "${tableName}" past the SDK's retries; raise the table's capacity or use on-demand billing.`,
        { cause: error, retryAfterSeconds: 2, throttled: true },
      );
    case 'too-many-changes':
      return new SessionTooLargeError(0, 0, [], {
        what: `DynamoDB refused ${operation} on "${tableName}": one request changed more attributes than one update expression can carry (about 250 in the single layout, 80 in the split one)`,
        cause: error,
      });
    case 'too-large':
      // The backstop of the size check before the write. DynamoDB does not say by how much: one byte over is all that is known.
      return new SessionTooLargeError(MAX_ITEM_BYTES + 1, MAX_ITEM_BYTES, [], {
        what: `DynamoDB refused ${operation} on "${tableName}": the item would exceed its 400 KB item size limit`,
        cause: error,
      });
    case 'transient':
      return new SessionStoreUnavailableError(
        `DynamoDB did not complete ${operation} on "${tableName}" in time (${e.name || e.code || 'error'}: ${e.message ?? ''}).`,
        { cause: error },
      );
    default:
      return new SessionStoreError(`DynamoDB refused ${operation} on "${tableName}": ${e.name ? `${e.name}: ` : ''}${e.message ?? String(error)}`, { cause: error });
  }
}
