import { DynamoDbLocalError } from '../tools/dynamodb-local';

/**
 * What `npm start` prints when the sample cannot start. For the failures a
 * person fixes by reading one sentence (no Java for DynamoDB Local, a port
 * in use) that sentence alone: the stack under it would only bury it.
 * Anything else is unexpected, and keeps its stack.
 */
export function startupFailureText(error: unknown): string {
  if (error instanceof DynamoDbLocalError) return error.message;
  // Duck-typed: Node's own errors need not pass `instanceof Error` of another realm (jest's, for one).
  const { code, message, stack } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown; stack?: unknown };
  if ((code === 'EADDRINUSE' || code === 'EACCES') && typeof message === 'string') {
    return `The sample cannot listen: ${message}. Set PORT to a free port (PORT=0 takes any) or HOST to another address.`;
  }
  if (typeof stack === 'string') return stack;
  return typeof message === 'string' ? message : String(error);
}
