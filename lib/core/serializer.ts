import { configure } from 'safe-stable-stringify';
import { SessionKeyError, SessionSerializationError, SessionUnreadableError } from './errors';

/** Encodes one attribute value. `path` names the attribute for error messages. */
export interface Serializer {
  encode(value: unknown, path: string): string | Uint8Array;
  decode(encoded: string | Uint8Array, path: string): unknown;
}

/** Keys that would reach an object's prototype when data is merged or assigned. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Nesting allowed in one attribute value (DynamoDB's own maps stop at 32). */
export const MAX_DEPTH = 64;

const DANGEROUS_KEY_TEXT = /__proto__|constructor|prototype|\\u/;

const stableStringify = configure({ deterministic: true, bigint: false, circularValue: Error });

/**
 * JSON with sorted keys, so equal values always encode to equal text (that is
 * what dirty detection compares). Refuses what JSON would silently change.
 */
export const jsonSerializer: Serializer = {
  encode(value, path) {
    assertJsonValue(value, path, []);
    return stableStringify(value) as string;
  },
  decode(encoded, path) {
    const text = typeof encoded === 'string' ? encoded : Buffer.from(encoded).toString('utf8');
    try {
      // The reviver costs a call per key; only text that names a dangerous key needs it.
      return (
        DANGEROUS_KEY_TEXT.test(text)
          ? JSON.parse(text, (key, v: unknown) => (FORBIDDEN_KEYS.has(key) ? undefined : v))
          : JSON.parse(text)
      ) as unknown;
    } catch {
      // Not the parser's message: it may quote the stored text, and this error's message goes to the client.
      throw new SessionUnreadableError(path, 'holds stored text that is not JSON');
    }
  },
};

function assertJsonValue(value: unknown, path: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      // JSON.parse turns client text like 1e400 into Infinity: unchecked input, answered 400 rather than 500. NaN is an app's own arithmetic.
      if (!Number.isFinite(value)) throw new SessionSerializationError(path, `${value} is not a finite number`, Number.isNaN(value) ? undefined : { status: 400 });
      return;
    case 'object':
      break;
    default:
      throw new SessionSerializationError(path, `a ${typeof value} cannot be represented in JSON`);
  }
  if (value === null) return;
  if (ancestors.length >= MAX_DEPTH) {
    // A limit rather than a stack overflow; deeper data is almost always hostile input an app stored unchecked.
    throw new SessionSerializationError(path, `it is nested more than ${MAX_DEPTH} levels deep`, { status: 413 });
  }
  if (ancestors.includes(value)) throw new SessionSerializationError(path, 'it refers to itself (a cycle)');
  ancestors.push(value);
  assertNoSymbolKeys(value, path);
  if (Array.isArray(value)) {
    // forEach skips holes, so walk the indices: JSON turns a hole into null.
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new SessionSerializationError(`${path}[${i}]`, 'a sparse array has a hole here that would read back as null');
      const item: unknown = value[i];
      if (item === undefined) throw new SessionSerializationError(`${path}[${i}]`, 'undefined would become null');
      assertJsonValue(item, `${path}[${i}]`, ancestors);
    }
    // Only indices survive JSON; a named property on an array is silently dropped.
    const keys = Object.keys(value);
    if (keys.length !== value.length) {
      const extra = keys.find((key) => !/^(0|[1-9]\d*)$/.test(key))!;
      throw new SessionSerializationError(`${path}.${extra}`, 'a property on an array would be dropped by JSON; use an object');
    }
  } else {
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      const hint = value instanceof Date ? '; store date.toISOString() or configure a serializer' : '';
      throw new SessionSerializationError(path, `a ${name} instance would lose its type${hint}`);
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) throw new SessionKeyError(`Session data may not contain the key "${key}" (at ${path}).`);
      const child = (value as Record<string, unknown>)[key];
      // An undefined property is dropped by JSON and reads back as undefined: same meaning.
      if (child !== undefined) assertJsonValue(child, `${path}.${key}`, ancestors);
    }
  }
  ancestors.pop();
}

/** JSON drops symbol-keyed properties without a word. */
function assertNoSymbolKeys(value: object, path: string): void {
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) {
      throw new SessionSerializationError(`${path}[${String(symbol)}]`, 'a symbol-keyed property would be dropped by JSON');
    }
  }
}
