import { sampleSecrets, sampleStore } from './dynamodb-target';
import { createKoaSample } from './koa/app';
import { createNestSample } from './nest/create-app';

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
  let close: () => Promise<unknown>;
  if (sample === 'koa') {
    const server = createKoaSample(target.store, sampleSecrets()).listen(port, host);
    close = () => new Promise((resolve) => server.close(resolve));
  } else {
    const app = await createNestSample(target.store, sampleSecrets(), sample === 'nest-fastify' ? 'fastify' : 'express');
    await app.listen(port, host);
    close = () => app.close();
  }
  console.log(`Sample app (${sample}) listening on http://${host}:${port}/`);
  const shutdown = (): void => {
    void close()
      .then(() => target.stop())
      .then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
