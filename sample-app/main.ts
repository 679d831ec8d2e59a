import type { AddressInfo, Server } from 'node:net';
import { sampleSecrets, sampleStore, SampleStore } from './dynamodb-target';
import { createKoaSample } from './koa/app';
import { createNestSample } from './nest/create-app';
import { startupFailureText } from './startup-failure';

/**
 * `npm start`: the NestJS sample (Express; SAMPLE=nest-fastify for Fastify, SAMPLE=koa for the Koa one)
 * on DynamoDB Local, unless DYNAMODB_ENDPOINT or AWS_REGION points elsewhere.
 */
async function main(): Promise<void> {
  const target = await sampleStore();
  console.log(`Sessions: ${target.description}`);
  const port = Number(process.env['PORT'] ?? 3000);
  const host = process.env['HOST'] ?? '127.0.0.1';
  const sample = process.env['SAMPLE'] ?? 'nest';
  let listening: { server: Server; close: () => Promise<unknown> };
  try {
    listening = await listen(target, sample, port, host);
  } catch (e) {
    await target.stop(); // DynamoDB Local is a child process: it must not outlive a sample that failed to start
    throw e;
  }
  // The address the server got, not the one asked for: PORT=0 means any free port.
  console.log(`Sample app (${sample}) listening on ${urlOf(listening.server.address() as AddressInfo)}`);
  // Once, and DynamoDB Local is stopped even when closing the server fails: it must not outlive the sample.
  const shutdown = (): void => {
    process.removeListener('SIGINT', shutdown);
    process.removeListener('SIGTERM', shutdown);
    listening
      .close()
      .catch((e: unknown) => console.error(`closing the sample failed: ${(e as Error).message}`))
      .then(() => target.stop())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          console.error(`stopping DynamoDB Local failed: ${(e as Error).message}`);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

async function listen(target: SampleStore, sample: string, port: number, host: string): Promise<{ server: Server; close: () => Promise<unknown> }> {
  if (sample === 'koa') {
    const server = createKoaSample(target.store, sampleSecrets()).listen(port, host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return { server, close: () => new Promise((resolve) => server.close(resolve)) };
  }
  const app = await createNestSample(target.store, sampleSecrets(), sample === 'nest-fastify' ? 'fastify' : 'express');
  await app.listen(port, host);
  return { server: app.getHttpServer(), close: () => app.close() };
}

function urlOf({ address, family, port }: AddressInfo): string {
  const host = family === 'IPv6' ? `[${address}]` : address;
  return `http://${host}:${port}/`;
}

main().catch((e: unknown) => {
  console.error(startupFailureText(e));
  process.exit(1);
});
