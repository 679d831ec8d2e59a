import { SessionConflictError } from './errors';
import type { MergeFunction } from './options';
import { CodecSettings, decodeValue } from './attribute-codec';
import { sameStoredValue, StoredSession, StoredValue } from './session-store';

/** Attributes whose stored value is no longer what this request expected. */
export function conflictingAttributes(expected: ReadonlyMap<string, StoredValue | null>, current: StoredSession): string[] {
  return [...expected].filter(([name, value]) => !sameStoredValue(current.data[name], value)).map(([name]) => name);
}

export function rejectConflict(attributes: readonly string[]): SessionConflictError {
  return new SessionConflictError(
    `Another request changed ${attributes.map((a) => `"${a}"`).join(', ')} while this one was running; nothing was written. ` +
      'Reload and retry, or configure onConflict with a merge function.',
  );
}

export interface MergedAttribute {
  readonly name: string;
  /** undefined: remove the attribute. */
  readonly value: unknown;
  /** What the item holds now: the guard for the retry. */
  readonly theirs: StoredValue | null;
}

/** Asks the app's merge function what each conflicting attribute should become. */
export async function mergeConflicts(
  merge: MergeFunction,
  attributes: readonly string[],
  current: StoredSession,
  mine: (name: string) => unknown,
  codec: CodecSettings,
): Promise<MergedAttribute[]> {
  return Promise.all(
    attributes.map(async (name) => {
      const stored = current.data[name];
      const theirs = stored === undefined ? undefined : (await decodeValue(stored, name, codec)).value;
      return { name, value: merge(name, mine(name), theirs), theirs: stored ?? null };
    }),
  );
}
