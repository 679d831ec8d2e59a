/** Calls starting within this many ms share one timer; each is aborted at most this late. */
export const DEADLINE_SLACK_MS = 50;

/**
 * One call's deadline, in the minimal abort-signal shape the SDK's HTTP
 * handler and retry loop accept (`aborted`, `onabort`, `reason`): they set
 * `onabort` instead of adding EventTarget listeners. A DOM AbortController
 * per call, its listeners and its timer cost more than the rest of a GetItem's
 * own work in this library (profiled: about 40 µs per call).
 */
export class CallDeadline {
  aborted = false;
  reason: Error | undefined;
  onabort: ((this: CallDeadline, event?: unknown) => unknown) | null = null;
  private finished = false;

  /** The call settled: nothing left to abort, and the handler's closure is released. */
  finish(): void {
    this.finished = true;
    this.onabort = null;
  }

  abort(reason: Error): void {
    if (this.finished || this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const handler = this.onabort;
    this.onabort = null;
    handler?.call(this);
  }
}

interface Bucket {
  readonly calls: CallDeadline[];
  readonly openUntil: number;
}

/**
 * Deadlines for DynamoDB calls that start close together share one timer: a
 * timer per `DEADLINE_SLACK_MS` instead of one per call. A call's deadline is
 * between `timeoutMs` and `timeoutMs + DEADLINE_SLACK_MS`, never earlier.
 */
export class SharedDeadlines {
  private readonly open = new Map<number, Bucket>();

  start(timeoutMs: number): CallDeadline {
    const deadline = new CallDeadline();
    const now = performance.now();
    let bucket = this.open.get(timeoutMs);
    if (!bucket || now >= bucket.openUntil) {
      const calls: CallDeadline[] = [];
      bucket = { calls, openUntil: now + DEADLINE_SLACK_MS };
      this.open.set(timeoutMs, bucket);
      setTimeout(() => {
        const reason = new DeadlineExceededError(timeoutMs);
        for (const call of calls) call.abort(reason);
      }, timeoutMs + DEADLINE_SLACK_MS).unref();
    }
    bucket.calls.push(deadline);
    return deadline;
  }
}

/** The abort reason: the whole call, retries included, ran past its deadline. */
export class DeadlineExceededError extends Error {
  override readonly name = 'TimeoutError';
  constructor(timeoutMs: number) {
    super(`the DynamoDB call did not finish within its ${timeoutMs} ms deadline (retries included)`);
  }
}
