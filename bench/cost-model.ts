import type { DynamoCost } from './counting-proxy';
import type { TargetResult } from './report';

/**
 * On-demand prices (us-east-1, since November 2024): $0.125 per million read request units, $0.625 per million
 * write request units (https://aws.amazon.com/dynamodb/pricing/on-demand/). An eventually consistent read costs half a unit.
 */
const READ_UNIT_USD = 0.125 / 1e6;
const WRITE_UNIT_USD = 0.625 / 1e6;

/** The web mix: 30% of requests never touch the session, 63% only read it, 7% write it. */
const WEB_MIX = { none: 0.3, read: 0.63, write: 0.07 } as const;

function per(cost: DynamoCost & { requestsMeasured?: number }, pick: (c: DynamoCost) => number): number {
  return pick(cost) / Math.max(1, cost.requestsMeasured ?? 1);
}

/** Dollars per million requests in the web mix; `eventual` halves every read unit. */
export function webMixUsd(r: TargetResult, eventual: boolean): number {
  let usd = 0;
  for (const [w, share] of Object.entries(WEB_MIX) as Array<[keyof typeof WEB_MIX, number]>) {
    const rcu = per(r.costs[w], (c) => c.rcu) * (eventual ? 0.5 : 1);
    usd += share * (rcu * READ_UNIT_USD + per(r.costs[w], (c) => c.wcu) * WRITE_UNIT_USD);
  }
  return usd * 1e6;
}

/** Dollars per million requests of one workload, strong reads. */
function workloadUsd(r: TargetResult, w: keyof TargetResult['costs']): number {
  const cost = r.costs[w];
  if (!cost) return 0;
  return (per(cost, (c) => c.rcu) * READ_UNIT_USD + per(cost, (c) => c.wcu) * WRITE_UNIT_USD) * 1e6;
}

const payloadOf = (r: TargetResult): string => /, (\d+) KB payload$/.exec(r.label)?.[1] ?? '0';
const f = (n: number, d = 2) => n.toFixed(d);

/** The table of layouts and peers, and the checks the split layout must pass (issue #16). */
export function renderCostModel(results: readonly TargetResult[]): string[] {
  const targets = results.filter((r) => r.kind !== 'baseline');
  const lines = [
    '## Write cost follows the change: layouts and peers in the web mix', '',
    'Per HTTP request, from the cost pass above. The session holds the profile (about 300 bytes) plus, in the payload variants, that many ' +
      'bytes of random base64url (tokens a backend-for-frontend keeps; compression cannot shrink it). `write` changes the counter, `touch` ' +
      'extends the session without changing it. $/M: dollars per million requests at on-demand prices ($0.125 per million read units, ' +
      '$0.625 per million write units) in the web mix: 30% of requests never touch the session, 63% read it, 7% write it. "Eventual" halves ' +
      'every read unit, as DynamoDB bills an eventually consistent read (dynamo-session: `eventualConsistency: true`).', '',
    '| target | payload KB | read RCU | write RCU | write WCU | write calls | touch WCU | $/M web mix, strong | $/M web mix, eventual |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of targets) {
    const touch = r.costs.touch ? f(per(r.costs.touch, (c) => c.wcu)) : '—';
    lines.push(`| ${r.label} | ${payloadOf(r)} | ${f(per(r.costs.read, (c) => c.rcu))} | ${f(per(r.costs.write, (c) => c.rcu))} | ` +
      `${f(per(r.costs.write, (c) => c.wcu))} | ${f(per(r.costs.write, (c) => c.calls))} | ${touch} | ${f(webMixUsd(r, false), 3)} | ${f(webMixUsd(r, true), 3)} |`);
  }
  lines.push('', '### Checks: the split layout', '');
  const find = (name: string) => targets.find((r) => r.name === name);
  for (const kb of ['1', '20']) {
    const split = find(`koa-dynamo-session-split-${kb}kb`);
    const single = find(`koa-dynamo-session-single-${kb}kb`);
    if (!split || !single) continue;
    const wcu = per(split.costs.write, (c) => c.wcu);
    const calls = per(split.costs.write, (c) => c.calls);
    const readSplit = per(split.costs.read, (c) => c.rcu);
    const readSingle = per(single.costs.read, (c) => c.rcu);
    lines.push(`- ${kb} KB payload: a write costs ${f(wcu)} WCU (at most 1.00: ${wcu <= 1 ? 'yes' : 'NO'}) in ${f(calls)} calls (at most 2: ${calls <= 2 ? 'yes' : 'NO'}); ` +
      `a read ${f(readSplit)} RCU against ${f(readSingle)} single (no more: ${readSplit <= readSingle ? 'yes' : 'NO'}); ` +
      `lost updates ${split.races.own.lost + split.races.counter.lost} in ${split.races.rounds} rounds of both races.`);
  }
  const split1k = find('koa-dynamo-session-split-1kb');
  if (split1k) {
    const strong = webMixUsd(split1k, false);
    const eventual = webMixUsd(split1k, true);
    const peers = targets.filter((r) => r.kind === 'peer' && payloadOf(r) === '1');
    const bestStrong = Math.min(...peers.map((p) => webMixUsd(p, false)));
    const bestEventual = Math.min(...peers.map((p) => webMixUsd(p, true)));
    // Compared at the precision the targets are given in (a tenth of a cent per million requests).
    const within = (usd: number, target: number) => (Math.round(usd * 1000) <= Math.round(target * 1000) ? 'yes' : 'NO');
    lines.push(`- web mix, 1 KB payload: $${f(strong, 5)}/M strong (at most $0.131: ${within(strong, 0.131)}; best peer $${f(bestStrong, 3)}, ` +
      `${f((strong / bestStrong - 1) * 100, 0)}%), $${f(eventual, 5)}/M eventual (at most $0.088: ${within(eventual, 0.088)}; cheapest peer $${f(bestEventual, 3)}, ` +
      `${f((eventual / bestEventual - 1) * 100, 0)}%). One read unit per read and one write unit per write, strong: $0.13125, the least a strong-read store can cost in this mix.`);
  }
  // The default for new tables: split only if it never costs more than single on any workload. `mixed` is left out: it is
  // reads and writes 9:1 by plan, but how the 1000 requests fall on the 20 connections moves its write share (0.09 to 0.10),
  // which moves its cost more than the layout does; its reads and writes are compared on their own.
  const worse: string[] = [];
  for (const kb of ['0', '1', '20']) {
    const split = kb === '0' ? find('koa-dynamo-session') : find(`koa-dynamo-session-split-${kb}kb`);
    const single = kb === '0' ? find('koa-dynamo-session-single') : find(`koa-dynamo-session-single-${kb}kb`);
    if (!split || !single) continue;
    for (const w of ['none', 'read', 'write', 'touch'] as const) {
      if (workloadUsd(split, w) > workloadUsd(single, w) + 1e-9) worse.push(`${w} at ${kb} KB (${f(workloadUsd(split, w), 3)} vs ${f(workloadUsd(single, w), 3)} $/M)`);
    }
  }
  lines.push(`- split never costs more than single on none, read, write or touch, at any payload measured: ${worse.length === 0 ? 'yes' : `NO: ${worse.join('; ')}`}.`);
  return lines;
}
