import { SessionStoreError, SessionStoreUnavailableError, TableNotFoundError } from '../../core/errors';

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
type Failure = 'condition' | 'missing-table' | 'throttled' | 'transient' | 'refused';

function classify(error: unknown): Failure {
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  if (name === 'ConditionalCheckFailedException') return 'condition';
  if (name === 'ResourceNotFoundException') return 'missing-table';
  if (THROTTLING.has(name)) return 'throttled';
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

export function isConditionFailure(error: unknown): boolean {
  return classify(error) === 'condition';
}

/** Turns an SDK failure (after its own retries) into the typed error the adapters answer with. */
export function toStoreError(error: unknown, operation: string, tableName: string, region: string): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  switch (classify(error)) {
    case 'missing-table':
      return new TableNotFoundError(tableName, region, { cause: error });
    case 'throttled':
      return new SessionStoreUnavailableError(
        `DynamoDB throttled ${operation} on "${tableName}" past the SDK's retries; raise the table's capacity or use on-demand billing.`,
        { cause: error, retryAfterSeconds: 2, throttled: true },
      );
    case 'transient':
      return new SessionStoreUnavailableError(
        `DynamoDB did not complete ${operation} on "${tableName}" in time (${e.name || e.code || 'error'}: ${e.message ?? ''}).`,
        { cause: error },
      );
    default:
      return new SessionStoreError(`DynamoDB refused ${operation} on "${tableName}": ${e.name ? `${e.name}: ` : ''}${e.message ?? String(error)}`, { cause: error });
  }
}
