import { performance } from 'node:perf_hooks';
import { SessionStoreError, SessionStoreUnavailableError } from './errors';
import { StatsD } from 'hot-shots';
import type { Logger } from './logger';

/** What the core reports. Absent (undefined) when statsd is not configured: then no metric call is made at all. */
export interface Metrics {
  timing(name: MetricName, milliseconds: number): void;
  histogram(name: MetricName, value: number): void;
  increment(name: MetricName): void;
}

/** Every metric, documented in docs/observability.md; sent with the configured prefix (default `session.`). */
export type MetricName =
  | 'load' | 'commit' | 'item_size_bytes'
  | 'created' | 'saved' | 'destroyed' | 'expired' | 'invalid_cookie'
  | 'conflict' | 'lock_wait' | 'throttle' | 'store_error' | 'login' | 'evicted';

export interface StatsdOptions {
  host?: string;
  /** Default 8125. */
  port?: number;
  /** Default 'session.'. */
  prefix?: string;
}

/** A hot-shots client from options (`{ host, port, prefix }`), or the app's own client as given. */
export function createMetrics(option: StatsdOptions | StatsD | undefined, logger: Logger): Metrics | undefined {
  if (option === undefined) return undefined;
  const client =
    option instanceof StatsD
      ? option
      : new StatsD({
          host: option.host ?? 'localhost',
          port: option.port ?? 8125,
          prefix: option.prefix ?? 'session.',
          // statsd is fire-and-forget UDP: a send error is worth a warning, never a failed request.
          errorHandler: (error) => logger.warn(`statsd: ${error.message}`),
        });
  return {
    timing: (name, ms) => client.timing(name, ms),
    histogram: (name, value) => client.histogram(name, value),
    increment: (name) => client.increment(name),
  };
}

/** Times a phase and counts store failures, when metrics are configured (no timer at all otherwise). */
export async function measured<T>(metrics: Metrics | undefined, phase: 'load' | 'commit', run: () => Promise<T>): Promise<T> {
  if (!metrics) return run();
  const started = performance.now();
  try {
    return await run();
  } catch (error) {
    if (error instanceof SessionStoreError) metrics.increment(error instanceof SessionStoreUnavailableError && error.throttled ? 'throttle' : 'store_error');
    throw error;
  } finally {
    metrics.timing(phase, performance.now() - started);
  }
}
