import { jitteredDelay, sleep } from './backoff';
import { conflictingAttributes, mergeConflicts, rejectConflict } from './conflicts';
import { applyMerged, Delta } from './delta';
import { SessionConflictError } from './errors';
import type { SessionRuntime } from './request-types';
import type { Session } from './session';
import type { StoredSession } from './session-store';

/**
 * Another request changed some attributes this one changed. 'reject' refuses
 * (nothing was written); a merge function decides each value, and the delta is
 * retried, guarded by what the item holds now.
 */
export async function resolveConflict(
  runtime: SessionRuntime, session: Session, key: string, delta: Delta, current: StoredSession, attempt: number,
): Promise<void> {
  const { options, events, codec } = runtime;
  const conflicting = conflictingAttributes(delta.expected ?? new Map(), current);
  if (conflicting.length === 0) {
    // A guard failed, yet the settled item holds every value this request expects: a store's record was behind
    // (the split layout repairs a given-up part claim on that read). No one changed anything: try again.
    if (attempt >= options.maxCommitRetries) {
      throw new SessionConflictError(`Gave up after ${attempt + 1} tries while the stored session was being settled (maxCommitRetries ${options.maxCommitRetries}); nothing was written.`);
    }
    return sleep(jitteredDelay(attempt, 5, 200));
  }
  events.emit('conflict', { key, attributes: conflicting });
  if (typeof options.onConflict !== 'function') throw rejectConflict(conflicting);
  if (attempt >= options.maxCommitRetries) {
    throw new SessionConflictError(`Gave up after ${attempt + 1} conflicting commits (maxCommitRetries ${options.maxCommitRetries}); nothing was written.`);
  }
  const merged = await mergeConflicts(options.onConflict, conflicting, current, (name) => session[name], codec);
  await applyMerged(delta, merged, session, codec);
  await sleep(jitteredDelay(attempt, 5, 200));
}
