const REDACTED = '[redacted]';

/**
 * A copy of session attributes for logs, with every key in `redact` masked at
 * any depth (so `password` inside `user` is masked too).
 */
export function redacted(value: unknown, redact: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redacted(v, redact));
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) copy[key] = redact.has(key) ? REDACTED : redacted(v, redact);
  return copy;
}
