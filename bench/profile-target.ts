import { fork } from 'node:child_process';
import { join } from 'node:path';
import { startDynamoDbLocal } from '../tools/dynamodb-local';
import { createSessions, runLoad, Workload } from './load';
import { warmUpDynamoDb } from './warm-up';

/** CPU profile of one target under one workload: `node bench/build/bench/profile-target.js NAME write DIR`. */
async function main(): Promise<void> {
  const [name, workload = 'write', dir = '/tmp/target-profile'] = process.argv.slice(2) as [string, Workload?, string?];
  const local = await startDynamoDbLocal();
  await warmUpDynamoDb(local.endpoint);
  const child = fork(join(__dirname, 'target-process.js'), [name, local.endpoint, `profile-${Date.now()}`], { stdio: 'inherit', execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const url = `http://127.0.0.1:${port}`;
  const cookies = await createSessions(url, 50);
  const load = await runLoad(url, workload, cookies, 4000, 20);
  console.log(`${name} ${workload}: ${load.rps.toFixed(0)} req/s`);
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  await local.stop();
}

void main();
