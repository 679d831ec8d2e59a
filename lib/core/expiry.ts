/** Epoch seconds: the idle deadline, never past the absolute one (so TTL removes the item at either). */
export function idleDeadline(now: number, maxInactiveInterval: number, absoluteExpiresAt: number | undefined): number {
  const idle = Math.floor(now / 1000) + maxInactiveInterval;
  return absoluteExpiresAt === undefined ? idle : Math.min(idle, absoluteExpiresAt);
}

/** Whether a stored session is past either deadline at `now` (epoch ms): DynamoDB's TTL deletes late, so every read checks. */
export function hasExpired(times: { readonly expiresAt: number; readonly absoluteExpiresAt?: number | undefined }, now: number): boolean {
  const nowSeconds = now / 1000;
  return times.expiresAt <= nowSeconds || (times.absoluteExpiresAt !== undefined && times.absoluteExpiresAt <= nowSeconds);
}

/**
 * Seconds the deadline must move before an unchanged session is written.
 * A session whose own idle timeout is short (setMaxInactiveInterval(3) under
 * touchAfter 60) is touched at least every half interval, so a user who keeps
 * reading is never logged out between touches.
 */
export function touchStep(touchAfter: number, maxInactiveInterval: number): number {
  return Math.min(touchAfter, Math.floor(maxInactiveInterval / 2));
}
