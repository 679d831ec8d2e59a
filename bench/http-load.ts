import { Agent, request } from 'node:http';

export interface TimedRun {
  ok: number;
  failed: number;
  seconds: number;
  /** Milliseconds, sorted. */
  latencies: number[];
}

export interface PlannedRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
}

function send(agent: Agent, url: URL, r: PlannedRequest, cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: url.hostname, port: url.port, method: r.method, path: r.path, headers: { cookie } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * `amount` requests over `connections` keep-alive connections; each connection
 * is one user (one cookie) and walks the plan in order. Timed with hrtime, so
 * short runs are measured as precisely as long ones.
 */
export async function timedRun(base: string, plan: readonly PlannedRequest[], cookies: readonly string[], amount: number, connections: number): Promise<TimedRun> {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let issued = 0;
  let ok = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let step = 0; issued < amount; step++) {
        issued++;
        const t0 = process.hrtime.bigint();
        const status = await send(agent, url, plan[step % plan.length]!, cookies[c % cookies.length]!).catch(() => 0);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (status >= 200 && status < 300) ok++;
        else failed++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { ok, failed, seconds, latencies: latencies.sort((a, b) => a - b) };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
