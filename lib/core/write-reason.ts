/** Why a commit writes to a stored session; undefined: it does not. */
export type WriteReason = 'changed' | 'principal' | 'interval' | 'forced' | 'touch';

export interface WriteFacts {
  /** Attributes were set or removed. */
  readonly changed: boolean;
  readonly principalChanged: boolean;
  readonly intervalChanged: boolean;
  /** The handler called touch(). */
  readonly forced: boolean;
  /** Seconds the idle deadline would move if written now. */
  readonly deadlineMovedBy: number;
  /** Seconds it must move before an unchanged session is worth a write (see touchStep). */
  readonly touchStep: number;
}

/** The save decision in one place: the first reason that applies, in order of what it would cost to lose. */
export function writeReason(facts: WriteFacts): WriteReason | undefined {
  // One pure function returning a reason, as koa-session's _shouldSaveSession: testable as a table.
  if (facts.changed) return 'changed';
  if (facts.principalChanged) return 'principal';
  if (facts.intervalChanged) return 'interval';
  if (facts.forced) return 'forced';
  if (facts.deadlineMovedBy >= facts.touchStep) return 'touch';
  return undefined;
}
