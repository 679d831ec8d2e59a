import { STATUS_CODES } from 'node:http';
import { SessionError } from '../core/errors';

/** The response for an error raised after Nest's exception filters already ran (in a response hook). */
export function errorResponse(error: unknown): { status: number; headers: Record<string, string>; body: string } {
  const status = error instanceof SessionError ? error.status : 500;
  const message = error instanceof SessionError && error.expose ? error.message : (STATUS_CODES[status] ?? 'Error');
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', ...(error instanceof SessionError ? error.headers : {}) },
    body: JSON.stringify({ statusCode: status, message }),
  };
}
