/**
 * Checks shared by the session options and the DynamoDB store options, so
 * both report problems in the same words. Kept apart from either resolver so
 * that checking store options loads nothing of the session machinery.
 */

/** How a bad option value is shown in an error: its kind, and its text only for scalars the caller wrote. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `"${value}"`;
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return `${typeof value} ${String(value)}`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  }
}

export function positiveInteger(name: string, value: unknown, fallback: number, problems: string[], hint?: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    problems.push(`${name} must be a positive whole number, got ${describe(value)}${hint ? ` (${hint})` : ''}`);
    return fallback;
  }
  return value;
}

export function nonNegativeInteger(name: string, value: unknown, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    problems.push(`${name} must be a whole number of 0 or more, got ${describe(value)}`);
    return fallback;
  }
  return value;
}
