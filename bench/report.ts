import type { DynamoCost } from './counting-proxy';
import type { LoadResult, Workload } from './load';
import { renderCostModel } from './cost-model';

export interface TargetResult {
  name: string;
  kind: 'baseline' | 'ours' | 'peer';
  framework: 'koa' | 'express' | 'nest';
  label: string;
  /** DynamoDB cost of one pass per workload; `requestsMeasured` HTTP requests. (`touch` only for session targets.) */
  costs: Record<Workload, DynamoCost & { requestsMeasured?: number }>;
  /** Measured for cost (and races) only. */
  costOnly?: boolean;
  /** One timing per round per workload. */
  rounds: Record<Workload, LoadResult[]>;
  races: { own: { lost: number; failed: number }; counter: { lost: number; failed: number }; rounds: number };
}

const WORKLOADS: Workload[] = ['none', 'read', 'write', 'mixed'];
const COST_WORKLOADS: Workload[] = [...WORKLOADS, 'touch'];
const fixed = (n: number, digits = 2) => n.toFixed(digits);

function perRequest(r: TargetResult, w: Workload, pick: (c: DynamoCost) => number): string {
  const cost = r.costs[w];
  return fixed(pick(cost) / Math.max(1, cost.requestsMeasured ?? 1));
}

type Median = (values: number[]) => number;

/** Throughput relative to the same framework without sessions, round by round (same conditions), then the median. */
function ratio(results: TargetResult[], r: TargetResult, w: Workload, median: Median): number {
  const baseline = results.find((b) => b.kind === 'baseline' && b.framework === r.framework)!;
  return median(r.rounds[w].map((load, i) => load.rps / baseline.rounds[w][i]!.rps));
}

export function renderResults(
  results: TargetResult[],
  run: { date: string; machine: string; amount: number; connections: number; users: number; rounds: number },
  median: Median,
): string {
  const sessionTargets = results.filter((r) => r.kind !== 'baseline');
  const lines: string[] = [
    '# Benchmark results',
    '',
    `Run on ${run.date}: ${run.machine}. Rerun with \`npm run bench\` (it installs \`bench/\`'s own dependencies, ` +
      'starts DynamoDB Local and writes this file; `BENCH_REQUESTS`, `BENCH_CONNECTIONS` and `BENCH_RACE_ROUNDS` scale it).',
    '',
    `DynamoDB Local is warmed up first (6000 calls), then every target gets 1000 warm-up requests. Cost is measured in one pass of 1000 ` +
      `requests per workload, on sessions logged in just before it (so reads fall within dynamo-session's touchAfter; touches are the \`touch\` workload). Throughput is measured in ${run.rounds} rounds of ${run.amount} requests per workload over ${run.connections} ` +
      `keep-alive connections, spread over ${run.users} logged-in users (a session of about 300 bytes: profile, cart, counter); each round ` +
      'runs the targets in a rotated order, ratios are taken within a round and the median is shown. Every target runs in its own process; the load ' +
      'generator (bench/http-load.ts, keep-alive, hrtime) and DynamoDB Local share the machine, so absolute numbers are this machine\'s: compare ratios, measured in one run.',
    '',
    'Workloads: `none` a route that never touches the session (the request still carries its cookie); `read` reads one attribute; ' +
      '`write` changes one attribute; `mixed` 9 reads then 1 write per connection (90/10); `touch` extends the session without changing it ' +
      '(cost only). Targets named with a layout or a payload are measured for cost and races only.',
    '',
    '## DynamoDB cost per HTTP request',
    '',
    'DynamoDB Local CPU ms: what DynamoDB Local (Java, on the same cores as the targets) spent per HTTP request in this pass. ' +
      'On AWS that work is the service\'s, billed as the RCU/WCU beside it; here it competes with the targets for CPU and so lowers their throughput.',
    '',
    '| target | workload | calls | RCU | WCU | bytes to DynamoDB | DynamoDB Local CPU ms | calls by operation |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of sessionTargets) {
    for (const w of COST_WORKLOADS) {
      const cost = r.costs[w];
      if (!cost) continue;
      const ops = Object.entries(cost.byOperation).map(([op, n]) => `${op} ${fixed(n / Math.max(1, cost.requestsMeasured ?? 1))}`).join(', ') || '—';
      lines.push(`| ${r.label} | ${w} | ${perRequest(r, w, (c) => c.calls)} | ${perRequest(r, w, (c) => c.rcu)} | ${perRequest(r, w, (c) => c.wcu)} | ${perRequest(r, w, (c) => c.bytes)} | ${perRequest(r, w, (c) => c.localCpuMs ?? 0)} | ${ops} |`);
    }
  }
  lines.push('', ...renderCostModel(results));
  lines.push('', '## Throughput and latency', '',
    'Medians over the rounds. Ratio: requests per second relative to the same framework with no session middleware, in the same round.', '',
    '| target | workload | req/s | ratio to baseline | p50 ms | p99 ms | failed requests |', '|---|---|---|---|---|---|---|');
  for (const r of results.filter((t) => !t.costOnly)) {
    for (const w of WORKLOADS) {
      const rounds = r.rounds[w];
      const failed = rounds.reduce((sum, l) => sum + l.errors, 0);
      lines.push(`| ${r.label} | ${w} | ${fixed(median(rounds.map((l) => l.rps)), 0)} | ${r.kind === 'baseline' ? '1.00' : fixed(ratio(results, r, w, median))} | ${median(rounds.map((l) => l.p50))} | ${median(rounds.map((l) => l.p99))} | ${failed} |`);
    }
  }
  lines.push('', '## Lost updates', '',
    'One user fires 20 requests at once, repeated per round. `own`: each request sets its own attribute `k<i>`; `counter`: each increments ' +
      'one counter. Lost = acknowledged (2xx) writes missing afterwards. dynamo-session runs its default optimistic mode, with ' +
      '`locking: { uriPattern: \'POST /incr\' }` for the counter route.', '',
    '| target | rounds | own: lost of 20 per round | counter: lost of 20 per round | requests refused openly |', '|---|---|---|---|---|');
  for (const r of sessionTargets.filter((t) => !(t.kind === 'peer' && t.costOnly))) {
    const per = (n: number) => fixed(n / r.races.rounds, 1);
    lines.push(`| ${r.label} | ${r.races.rounds} | ${per(r.races.own.lost)} | ${per(r.races.counter.lost)} | ${r.races.own.failed + r.races.counter.failed} |`);
  }
  const ours = sessionTargets.find((r) => r.kind === 'ours' && r.framework === 'koa' && !r.costOnly);
  const peers = sessionTargets.filter((r) => r.kind === 'peer' && !r.costOnly);
  if (ours) {
    lines.push('', '## Checks: throughput', '');
    for (const w of WORKLOADS) {
      const mine = ratio(results, ours, w, median);
      const best = Math.max(...peers.map((p) => ratio(results, p, w, median)));
      lines.push(`- ${w}: Koa + dynamo-session throughput ratio ${fixed(mine)} vs best peer ratio ${fixed(best)} → ${mine >= best ? 'at least as good' : 'WORSE'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
