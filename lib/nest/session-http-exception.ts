import { HttpException } from '@nestjs/common';
import type { SessionError } from '../core/errors';

/**
 * A session error the client caused (4xx: conflict, too large, bad key), as the
 * HttpException it is for Nest: exception filters answer it with its status, and
 * Nest's default filter does not log it as a server error with a stack, which
 * would let any anonymous client flood the error log. The typed error is `cause`.
 */
export class SessionHttpException extends HttpException {
  constructor(error: SessionError) {
    super(error.message, error.status, { cause: error });
  }

  /** The library's typed error (SessionConflictError, SessionTooLargeError, ...). */
  get sessionError(): SessionError {
    return this.cause as SessionError;
  }
}
