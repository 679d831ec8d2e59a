import { percentile, PlannedRequest, timedRun } from './http-load';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export type Workload = 'none' | 'read' | 'write' | 'mixed' | 'touch';

/** The cookie pairs a response set, ready to send back (works for one cookie or koa-session's signed pair). */
export function cookiesFrom(setCookie: string[] | null): string {
  return (setCookie ?? []).map((c) => c.split(';')[0]).join('; ');
}

/** Logs `count` users in and returns one cookie header each. */
export async function createSessions(url: string, count: number): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/login`, { method: 'POST' });
    await res.text();
    cookies.push(cookiesFrom(res.headers.getSetCookie()));
  }
  return cookies;
}

const PLANS: Record<Workload, PlannedRequest[]> = {
  none: [{ method: 'GET', path: '/none' }],
  read: [{ method: 'GET', path: '/read' }],
  write: [{ method: 'POST', path: '/write' }],
  // 9 reads then a write, per connection: 90/10
  mixed: [...Array.from({ length: 9 }, () => ({ method: 'GET' as const, path: '/read' })), { method: 'POST', path: '/write' }],
  touch: [{ method: 'POST', path: '/touch' }],
};

/** A fixed number of requests over `connections` keep-alive connections, each its own user. */
export async function runLoad(url: string, workload: Workload, cookies: string[], amount: number, connections: number): Promise<LoadResult> {
  const run = await timedRun(url, PLANS[workload], cookies, amount, connections);
  return {
    requests: run.ok + run.failed,
    errors: run.failed,
    rps: (run.ok + run.failed) / run.seconds,
    p50: Number(percentile(run.latencies, 50).toFixed(1)),
    p99: Number(percentile(run.latencies, 99).toFixed(1)),
  };
}

/**
 * The lost-update races: one user's browser fires 20 requests at once.
 * 'own': each sets its own attribute; 'counter': each increments one counter.
 */
export async function race(url: string, kind: 'own' | 'counter', writers = 20): Promise<{ lost: number; failed: number }> {
  const login = await fetch(`${url}/login`, { method: 'POST' });
  await login.text();
  const cookie = cookiesFrom(login.headers.getSetCookie());
  const responses = await Promise.all(
    Array.from({ length: writers }, (_, i) => fetch(`${url}/${kind === 'own' ? `own/${i}` : 'incr'}`, { method: 'POST', headers: { cookie } })),
  );
  const failed = responses.filter((r) => !r.ok).length;
  await Promise.all(responses.map((r) => r.text()));
  const state = (await (await fetch(`${url}/all`, { headers: { cookie } })).json()) as Record<string, unknown>;
  const kept = kind === 'own' ? Object.keys(state).filter((k) => /^k\d+$/.test(k)).length : Number(state['counter'] ?? 0);
  // A request that failed openly (4xx/5xx) is not a lost update: only acknowledged writes that vanished are.
  return { lost: writers - failed - kept, failed };
}
