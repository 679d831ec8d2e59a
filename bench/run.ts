import { fork, ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startDynamoDbLocal } from '../tools/dynamodb-local';
import { CountingProxy, DynamoCost } from './counting-proxy';
import { createSessions, LoadResult, race, runLoad, Workload } from './load';
import { TARGETS } from './targets';
import { renderResults, TargetResult } from './report';
import { dynamoDbLocalCpuMs } from './process-cpu';
import { warmUpDynamoDb } from './warm-up';

/** Throughput is timed on these; cost is measured on these and `touch`. */
const WORKLOADS: Workload[] = ['none', 'read', 'write', 'mixed'];
const COST_WORKLOADS: Workload[] = [...WORKLOADS, 'touch'];
const AMOUNT = Number(process.env['BENCH_REQUESTS'] ?? 2000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 20);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const RACE_ROUNDS = Number(process.env['BENCH_RACE_ROUNDS'] ?? 5);
const USERS = 50;

interface Running {
  name: string;
  url: string;
  child: ChildProcess;
  cookies: string[];
}

async function startTarget(name: string, endpoint: string): Promise<Running> {
  const child = fork(join(__dirname, 'target-process.js'), [name, endpoint, `bench-${name}-${Date.now()}`], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return { name, url, child, cookies: await createSessions(url, USERS) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const local = await startDynamoDbLocal();
  const proxy = new CountingProxy(new URL(local.endpoint));
  const endpoint = await proxy.listen();
  const started = new Date();
  const names = Object.keys(TARGETS);
  const running: Running[] = [];
  const costs = new Map<string, Record<Workload, DynamoCost>>();
  const timings = new Map<string, Record<Workload, LoadResult[]>>();
  const races = new Map<string, TargetResult['races']>();
  try {
    console.log('warming up DynamoDB Local (its JIT makes whoever runs first slower)');
    await warmUpDynamoDb(endpoint);
    for (const name of names) running.push(await startTarget(name, endpoint));
    for (const t of running) await runLoad(t.url, 'mixed', t.cookies, TARGETS[t.name]!.costOnly ? 200 : 1000, CONNECTIONS); // warm each target's JIT and pools

    // Cost: deterministic, one pass, on sessions logged in just before it, so the reads fall within touchAfter
    // (dynamo-session's touches are measured by the touch workload, not mixed into the reads at whatever age the sessions have).
    for (const t of running) {
      t.cookies = await createSessions(t.url, USERS);
      const perWorkload = {} as Record<Workload, DynamoCost>;
      for (const w of COST_WORKLOADS) {
        if (TARGETS[t.name]!.kind === 'baseline' && w === 'touch') continue;
        proxy.reset();
        const localCpuBefore = dynamoDbLocalCpuMs();
        const load = await runLoad(t.url, w, t.cookies, 1000, CONNECTIONS);
        perWorkload[w] = { ...proxy.reset(), requestsMeasured: load.requests, localCpuMs: dynamoDbLocalCpuMs() - localCpuBefore } as DynamoCost;
      }
      costs.set(t.name, perWorkload);
    }

    // Throughput: rounds, target order rotated each round, so no target always runs first.
    for (let round = 0; round < ROUNDS; round++) {
      for (const w of WORKLOADS) {
        const timed = running.filter((t) => !TARGETS[t.name]!.costOnly);
        const order = timed.map((_, i) => timed[(i + round) % timed.length]!);
        for (const t of order) {
          const load = await runLoad(t.url, w, t.cookies, AMOUNT, CONNECTIONS);
          const entry = timings.get(t.name) ?? ({ none: [], read: [], write: [], mixed: [], touch: [] });
          entry[w].push(load);
          timings.set(t.name, entry);
          console.log(`round ${round + 1} ${t.name.padEnd(34)} ${w.padEnd(6)} ${load.rps.toFixed(0).padStart(6)} req/s  p99 ${load.p99} ms`);
        }
      }
    }

    for (const t of running) {
      const result = { own: { lost: 0, failed: 0 }, counter: { lost: 0, failed: 0 }, rounds: RACE_ROUNDS };
      // Races for every target but the baselines and the peers' payload variants (their payload changes nothing there).
      if (TARGETS[t.name]!.kind !== 'baseline' && !(TARGETS[t.name]!.kind === 'peer' && TARGETS[t.name]!.costOnly)) {
        for (let i = 0; i < RACE_ROUNDS; i++) {
          for (const kind of ['own', 'counter'] as const) {
            const r = await race(t.url, kind);
            result[kind].lost += r.lost;
            result[kind].failed += r.failed;
          }
        }
      }
      races.set(t.name, result);
    }
  } finally {
    for (const t of running) t.child.kill();
    await proxy.close();
    await local.stop();
  }

  const results: TargetResult[] = names.map((name) => ({
    name,
    ...TARGETS[name]!,
    costs: costs.get(name)!,
    rounds: timings.get(name) ?? { none: [], read: [], write: [], mixed: [], touch: [] },
    races: races.get(name)!,
  }));
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, DynamoDB Local (in memory) behind a counting proxy`;
  const markdown = renderResults(results, { date: started.toISOString().slice(0, 10), machine, amount: AMOUNT, connections: CONNECTIONS, users: USERS, rounds: ROUNDS }, median);
  writeFileSync(join(__dirname, '..', '..', 'RESULTS.md'), markdown); // bench/build/bench/ -> bench/RESULTS.md
  console.log(markdown);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
