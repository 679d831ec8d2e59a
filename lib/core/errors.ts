/**
 * Typed errors. Each carries the HTTP status the adapters answer with, and
 * `expose`/`headers` in the shape Koa's and Nest's error handlers understand,
 * so an app gets a sensible response without mapping them itself.
 */
export abstract class SessionError extends Error {
  abstract readonly status: number;
  /** Koa sends the message of exposed errors to the client; only 4xx are exposed. */
  get expose(): boolean {
    return this.status < 500;
  }
  /** The same, under the name Nest's default exception filter and http-errors use. */
  get statusCode(): number {
    return this.status;
  }
  /**
   * Extra response headers (Koa keeps `err.headers` when it resets the response).
   * An error answer about a session is never for a shared cache.
   */
  headers: Record<string, string> = { 'Cache-Control': 'no-store' };

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class SessionConfigError extends SessionError {
  readonly status = 500;
  constructor(readonly problems: readonly string[]) {
    super(
      `Invalid dynamo-session options (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

/** A DynamoDB call failed for a reason that is not transient (permissions, validation). */
export class SessionStoreError extends SessionError {
  readonly status: number = 500;
}

/** The store did not answer in time, throttled past the SDK's retries, or is down. */
export class SessionStoreUnavailableError extends SessionStoreError {
  override readonly status: number = 503;
  /** DynamoDB throttled past the SDK's retries (rather than timing out or being unreachable). */
  readonly throttled: boolean;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number; throttled?: boolean }) {
    super(message, options);
    this.throttled = options?.throttled ?? false;
    this.headers['Retry-After'] = String(options?.retryAfterSeconds ?? 1);
  }
}

export class TableNotFoundError extends SessionStoreUnavailableError {
  /**
   * @param region the region the SDK client uses; undefined when it could not be told, and then the
   *   message names none rather than guess.
   * @param options.endpoint a non-AWS endpoint (DynamoDB Local), so the printed command reaches the same place.
   * @param options.layout the item layout the store was configured with, so the printed command creates that one.
   */
  constructor(
    readonly tableName: string,
    readonly region: string | undefined,
    options?: { cause?: unknown; endpoint?: string | undefined; layout?: string | undefined },
  ) {
    const where = [region === undefined ? '' : ` in region ${region}`, options?.endpoint === undefined ? '' : ` at ${options.endpoint}`].join('');
    const target = [
      region === undefined ? '' : ` --region ${region}`,
      options?.endpoint === undefined ? '' : ` --endpoint ${options.endpoint}`,
      options?.layout === undefined ? '' : ` --layout ${options.layout}`,
    ].join('');
    super(
      `DynamoDB table "${tableName}" does not exist${where}. ` +
        `Create it with: npx dynamo-session create-table --table ${tableName}${target} ` +
        `(or construct the store with createIfNotExist: true).`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

export interface AttributeSize {
  readonly name: string;
  readonly bytes: number;
}

export class SessionTooLargeError extends SessionError {
  readonly status = 413;
  constructor(
    readonly itemBytes: number,
    readonly limitBytes: number,
    readonly largestAttributes: readonly AttributeSize[],
    options?: { what?: string; cause?: unknown },
  ) {
    super(
      `${options?.what ?? `Session is ${itemBytes} bytes, over DynamoDB's item limit of ${limitBytes} bytes`}; nothing was written. ` +
        (largestAttributes.length > 0 ? `Largest attributes: ${largestAttributes.map((a) => `${a.name} (${a.bytes} B)`).join(', ')}. ` : '') +
        `Keep large data out of the session or lower compressThreshold.`,
      options,
    );
  }
}

export class SessionConflictError extends SessionError {
  readonly status = 409;
}

export class SessionLockTimeoutError extends SessionError {
  readonly status = 503;
}

/** `destroyOther(handle)` named no live session of this session's user: nothing was deleted. */
export class SessionNotFoundError extends SessionError {
  readonly status = 404;
}

/**
 * The route needs a recent login (`requireFreshAuth`, `@RequireFreshAuth`): the session has no user, or its
 * last `login()` is older than the route allows. Ask for the credentials again, then call `session.login()`.
 */
export class SessionReauthenticationRequiredError extends SessionError {
  readonly status = 401;
  constructor(
    /** The route's limit in seconds. */
    readonly maxAgeSeconds: number,
    /** Seconds since the last login; undefined when the session has no logged-in user. */
    readonly authAge: number | undefined,
    /** The session has a user, set with setPrincipal() rather than logged in with login(). */
    hasUser = false,
  ) {
    super(
      authAge !== undefined
        ? `This action needs a login within the last ${maxAgeSeconds} s; the last one was ${authAge} s ago. ` +
          `Ask for the credentials again and call session.login(userId), then retry.`
        : hasUser
          ? `This action needs a login within the last ${maxAgeSeconds} s; this session's user was set without session.login(userId). Log in, then retry.`
          : `This action needs a logged-in user (a login within the last ${maxAgeSeconds} s); the session has none. Log in, then retry.`,
    );
  }
}

export class SessionKeyError extends SessionError {
  readonly status = 400;
}

/**
 * A stored session no load can read: its values would inflate past the read bound (one past `maxSessionBytes`,
 * all together past twice that, which last-write-wins writers of different attributes can reach), or one of them
 * can no longer be decoded (corrupt bytes, a serializer that changed). 422, not 413: nothing the client sent
 * is too large, and 413 is what a refused write answers. The message names the attribute, never a value.
 * `destroy()` reads nothing, so the session can still be ended.
 */
export class SessionUnreadableError extends SessionError {
  readonly status = 422;
  constructor(
    /** The attribute whose stored value could not be read. */
    readonly attribute: string,
    reason: string,
  ) {
    super(
      `The stored session could not be read: attribute "${attribute}" ${reason}. ` +
        'End it with destroy() without loading it first (Koa: ctx.sessionContext.destroy(); Nest: sessionValve.context(req).destroy()), or let it expire.',
    );
  }
}

export class SessionSerializationError extends SessionError {
  /**
   * 500: the app stored something JSON cannot keep. 413: a value nested too deep, and 400: a number
   * out of JSON's range (1e400 parses to Infinity); both typically unchecked client input.
   */
  readonly status: number;
  constructor(
    readonly path: string,
    reason: string,
    options?: { status?: 400 | 413 },
  ) {
    super(
      `Session attribute ${path} cannot be stored: ${reason}. ` +
        `Store plain JSON data (objects, arrays, strings, finite numbers, booleans, null) or configure a serializer.`,
    );
    this.status = options?.status ?? 500;
  }
}
