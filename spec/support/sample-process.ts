import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { endpoint } from './dynamodb';

const ROOT = join(__dirname, '..', '..');

/** Compiles the library and the sample as `npm start` does. */
export function buildSample(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  execFileSync(process.execPath, [tsc, '-p', 'sample-app/tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
}

export interface SampleProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** Runs the compiled sample as its own process against the test DynamoDB Local. */
export async function startSample(port: number, tableName: string, sample = 'nest'): Promise<SampleProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'build', 'sample-app', 'main.js')], {
    env: { ...process.env, PORT: String(port), SESSION_TABLE: tableName, SAMPLE: sample, DYNAMODB_ENDPOINT: endpoint(), SESSION_SECRET: 'browser-spec-secret-0123456789abcdef0123' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sample exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`sample did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
