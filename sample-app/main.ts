import type { Server } from 'node:http';
import { sampleSecrets, sampleStore } from './dynamodb-target';
import { createKoaSample } from './koa/app';

async function main(): Promise<void> {
  const target = await sampleStore();
  console.log(`Sessions: ${target.description}`);
  const port = Number(process.env['PORT'] ?? 3000);
  const server: Server = createKoaSample(target.store, sampleSecrets()).listen(port, '127.0.0.1', () => {
    console.log(`Sample app (Koa) listening on http://127.0.0.1:${port}/`);
  });
  const shutdown = (): void => {
    server.close();
    void target.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
