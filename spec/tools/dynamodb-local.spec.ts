import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbLocalError, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../tools/dynamodb-local';
import { startupFailureText } from '../../sample-app/startup-failure';

/** Runs `fn` with PATH set to an empty directory: no `java` (nor anything else) to be found. */
async function withoutJava<T>(fn: () => Promise<T>): Promise<T> {
  const empty = mkdtempSync(join(tmpdir(), 'no-java-'));
  const path = process.env['PATH'];
  process.env['PATH'] = empty;
  try {
    return await fn();
  } finally {
    process.env['PATH'] = path;
    rmSync(empty, { recursive: true, force: true });
  }
}

describe('tools/dynamodb-local: starting DynamoDB Local', () => {
  it('without java on the PATH, refuses with a sentence that names Java 17 and DYNAMODB_ENDPOINT', async () => {
    const error = await withoutJava(() => startDynamoDbLocal().then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(DynamoDbLocalError);
    expect((error as Error).message).toBe(
      'DynamoDB Local needs Java 17 or newer on the PATH, and `java` was not found. ' +
        'Install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or point DYNAMODB_ENDPOINT at a running DynamoDB.',
    );
  });

  it('with java, answers on the endpoint it returns, until stopped', async () => {
    const local = await startDynamoDbLocal();
    const client = new DynamoDBClient({ endpoint: local.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    try {
      expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual(expect.any(Array));
      await local.stop();
      await expect(client.send(new ListTablesCommand({}))).rejects.toThrow();
    } finally {
      client.destroy();
      await local.stop();
    }
  });
});

describe('sample-app/startup-failure: what `npm start` prints when it cannot start', () => {
  it('prints the no-Java sentence alone: no stack frames under it', async () => {
    const error = await withoutJava(() => startDynamoDbLocal().then(() => undefined, (e: unknown) => e));
    const text = startupFailureText(error);
    expect(text).toBe((error as Error).message);
    expect(text).toContain('DYNAMODB_ENDPOINT');
    expect(text).not.toMatch(/^\s+at /m);
  });

  it('prints a port already in use as one sentence that says to set PORT', async () => {
    const taken = await listen(createServer(), 0);
    try {
      const error = await listen(createServer(), (taken.address() as { port: number }).port).then(() => undefined, (e: unknown) => e);
      const text = startupFailureText(error);
      expect(text).toMatch(/^The sample cannot listen: listen EADDRINUSE.*Set PORT to a free port/);
      expect(text).not.toMatch(/^\s+at /m);
    } finally {
      taken.close();
    }
  });

  it('keeps the stack of an error it does not know', () => {
    const unexpected = new TypeError('cannot read properties of undefined');
    expect(startupFailureText(unexpected)).toBe(unexpected.stack);
    expect(startupFailureText(unexpected)).toMatch(/^\s+at /m);
  });
});

function listen(server: Server, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
