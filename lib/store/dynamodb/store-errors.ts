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

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has((error as SdkErrorShape)?.name ?? '');
}

/**
 * A failure after which the write may or may not have been applied: the request
 * went out but no answer came back. Throttling and validation errors are definite.
 */
export function isAmbiguous(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorShape;
  if (isThrottling(error)) return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '') || status >= 500 || (e.$metadata !== undefined && status === 0);
}

export function isConditionFailure(error: unknown): boolean {
  return (error as SdkErrorShape)?.name === 'ConditionalCheckFailedException';
}

/** Turns an SDK failure (after its own retries) into the typed error the adapters answer with. */
export function toStoreError(error: unknown, operation: string, tableName: string, region: string): SessionStoreError {
  if (error instanceof SessionStoreError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const name = e.name ?? '';
  if (name === 'ResourceNotFoundException') return new TableNotFoundError(tableName, region, { cause: error });
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (isThrottling(error)) {
    return new SessionStoreUnavailableError(`DynamoDB throttled ${operation} on "${tableName}" past the SDK's retries; raise the table's capacity or use on-demand billing.`, { cause: error, retryAfterSeconds: 2, throttled: true });
  }
  // No HTTP status at all means DynamoDB never answered (refused, reset, timed out): a transport failure.
  const noResponse = e.$metadata !== undefined && status === 0;
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_CODES.has(e.code ?? '') || noResponse || status >= 500 || e.$retryable !== undefined) {
    return new SessionStoreUnavailableError(`DynamoDB did not complete ${operation} on "${tableName}" in time (${name || e.code || 'error'}: ${e.message ?? ''}).`, { cause: error });
  }
  return new SessionStoreError(`DynamoDB refused ${operation} on "${tableName}": ${name ? `${name}: ` : ''}${e.message ?? String(error)}`, { cause: error });
}
