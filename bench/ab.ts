import { fork } from 'node:child_process';
import { join } from 'node:path';
import { startDynamoDbLocal } from '../tools/dynamodb-local';
import { CountingProxy } from './counting-proxy';
import { createSessions, runLoad, Workload } from './load';
import { dynamoDbLocalCpuMs } from './process-cpu';
import { warmUpDynamoDb } from './warm-up';

/** A/B of two targets on one workload, alternating, for investigating a gap (`node bench/build/bench/ab.js A B write`). */
async function main(): Promise<void> {
  const [a, b, workload = 'write', rounds = '6'] = process.argv.slice(2) as [string, string, Workload?, string?];
  const local = await startDynamoDbLocal();
  const proxy = new CountingProxy(new URL(local.endpoint));
  const endpoint = await proxy.listen();
  await warmUpDynamoDb(endpoint);
  const targets = await Promise.all([a, b].map(async (name) => {
    const child = fork(join(__dirname, 'target-process.js'), [name, endpoint, `ab-${name}-${Date.now()}`], { stdio: 'inherit' });
    const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
    const url = `http://127.0.0.1:${port}`;
    return { name, url, child, cookies: await createSessions(url, 50) };
  }));
  for (const t of targets) await runLoad(t.url, workload, t.cookies, 1000, 20);
  for (let r = 0; r < Number(rounds); r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    const line: string[] = [];
    for (const t of order) {
      const before = await cpuOf(t.child);
      const javaBefore = dynamoDbLocalCpuMs();
      const rps = (await runLoad(t.url, workload, t.cookies, 2000, 20)).rps;
      const after = await cpuOf(t.child);
      const javaMsPerRequest = (dynamoDbLocalCpuMs() - javaBefore) / 2000;
      const cpuMsPerRequest = (after.user + after.system - before.user - before.system) / 1000 / 2000;
      line.push(`${t.name} ${rps.toFixed(0)} req/s ${cpuMsPerRequest.toFixed(2)} ms CPU/req, DynamoDB Local ${javaMsPerRequest.toFixed(2)} ms/req`);
    }
    console.log(`round ${r + 1}: ${line.join('  ')}`);
  }
  for (const t of targets) t.child.kill();
  await proxy.close();
  await local.stop();
}

function cpuOf(child: import('node:child_process').ChildProcess): Promise<NodeJS.CpuUsage> {
  return new Promise((resolve) => {
    const onMessage = (m: { cpu?: NodeJS.CpuUsage }) => {
      if (!m.cpu) return;
      child.off('message', onMessage);
      resolve(m.cpu);
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

void main();
