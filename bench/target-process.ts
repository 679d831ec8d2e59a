import { TARGETS } from './targets';

/** Runs one target in its own process (so load generation does not share its event loop) and reports its port. */
async function main(): Promise<void> {
  const [name, endpoint, tableName] = process.argv.slice(2) as [string, string, string];
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${name}`);
  const server = await target.start({ endpoint, tableName });
  server.keepAliveTimeout = 60_000;
  process.on('message', (m) => {
    if (m === 'stop') server.close(() => process.exit(0)); // a clean exit lets --cpu-prof write its profile
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  server.listen(0, '127.0.0.1', () => {
    process.send!({ port: (server.address() as { port: number }).port });
  });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
