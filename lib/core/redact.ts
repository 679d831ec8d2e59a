import type { ResolvedSessionOptions } from './options';
import type { Session } from './session';
import type { StoredValue } from './session-store';

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

/** After a write: the item's size for metrics, and what was saved for logSessionContents (masked). */
export function recordSave(
  options: Pick<ResolvedSessionOptions, 'metrics' | 'logSessionContents' | 'logger' | 'redact'>,
  key: string,
  itemBytes: number,
  written: ReadonlyMap<string, StoredValue>,
  session: Session,
): void {
  options.metrics?.histogram('item_size_bytes', itemBytes);
  if (options.logSessionContents && written.size > 0) {
    options.logger.debug(`session ${key} saved`, redacted(Object.fromEntries([...written.keys()].map((n) => [n, session[n]])), options.redact));
  }
}
