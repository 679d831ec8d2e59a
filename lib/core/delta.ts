import { CodecSettings, toStored } from './attribute-codec';
import type { MergedAttribute } from './conflicts';
import type { Session } from './session';
import { Encoded, fingerprint, storedSize } from './stored-value';
import type { StoredSession, StoredValue } from './session-store';

/** The stored item behind the session, as of the last load or commit: what the next commit diffs against. */
export interface Baseline {
  readonly key: string;
  /** The item's version as loaded: regenerate() moves the session only if nobody wrote since. */
  version: number;
  /** The load may have missed a write still landing (StoredSession.unsettled). */
  readonly unsettled?: boolean;
  times: Pick<StoredSession, 'createdAt' | 'expiresAt' | 'absoluteExpiresAt' | 'maxInactiveInterval'>;
  /** Per attribute: the fingerprint of its encoding (dirty detection) and its stored value (guards, sizes). */
  readonly fingerprints: Map<string, string>;
  readonly values: Map<string, StoredValue>;
}

/** A delta on its way to the store. */
export interface Delta {
  set: Map<string, StoredValue>;
  remove: string[];
  /** Encodings of `set`, for the next baseline. */
  encoded: Map<string, Encoded>;
  /** Per changed attribute, the stored value it must still have (null: still absent); undefined under last-write-wins. */
  expected: Map<string, StoredValue | null> | undefined;
}

/** Only what changed since the baseline; guarded by the baseline's values when `guarded`. */
export async function deltaAgainst(base: Baseline, encoded: ReadonlyMap<string, Encoded>, guarded: boolean, codec: CodecSettings): Promise<Delta> {
  const changed = [...encoded].filter(([name, value]) => base.fingerprints.get(name) !== fingerprint(value));
  const remove = [...base.values.keys()].filter((name) => !encoded.has(name));
  const expected = guarded
    ? new Map<string, StoredValue | null>([...changed.map(([n]) => n), ...remove].map((n) => [n, base.values.get(n) ?? null]))
    : undefined;
  return { set: await toStored(changed, codec), remove, encoded: new Map(changed), expected };
}

/**
 * Puts a merge function's answers into the session and the delta, each now
 * guarded by what the item holds, for the retry.
 */
export async function applyMerged(delta: Delta, merged: readonly MergedAttribute[], session: Session, codec: CodecSettings): Promise<void> {
  const encodings = new Map<string, Encoded>();
  for (const { name, value, theirs } of merged) {
    delta.expected?.set(name, theirs);
    delta.set.delete(name);
    delta.encoded.delete(name);
    delta.remove = delta.remove.filter((n) => n !== name);
    if (value === undefined) {
      delete session[name];
      if (theirs !== null) delta.remove.push(name);
    } else {
      session[name] = value;
      encodings.set(name, codec.serializer.encode(value, name));
    }
  }
  for (const [name, value] of await toStored(encodings, codec)) delta.set.set(name, value);
  for (const [name, value] of encodings) delta.encoded.set(name, value);
}

/** After a stored write, and only then: the baseline becomes what the item now holds. */
export function advanceBaseline(base: Baseline, delta: Delta, expiresAt: number): void {
  for (const [name, value] of delta.set) base.values.set(name, value);
  for (const [name, value] of delta.encoded) base.fingerprints.set(name, fingerprint(value));
  for (const name of delta.remove) {
    base.values.delete(name);
    base.fingerprints.delete(name);
  }
  base.times = { ...base.times, expiresAt };
  base.version++;
}

/** The baseline of an item this request just created: version 1, holding what it stored. */
export function createdBaseline(key: string, times: Baseline['times'], encoded: ReadonlyMap<string, Encoded>, values: Map<string, StoredValue>): Baseline {
  return { key, version: 1, times, fingerprints: new Map([...encoded].map(([name, value]) => [name, fingerprint(value)])), values };
}

/** Attribute sizes of the item once the delta is applied. */
export function projectedSizes(values: ReadonlyMap<string, StoredValue>, delta: Delta): Map<string, number> {
  const sizes = sizesOf(values);
  for (const [name, value] of delta.set) sizes.set(name, storedSize(value));
  for (const name of delta.remove) sizes.delete(name);
  return sizes;
}

export function sizesOf(values: ReadonlyMap<string, StoredValue>): Map<string, number> {
  return new Map([...values].map(([name, value]) => [name, storedSize(value)]));
}
