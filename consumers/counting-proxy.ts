import { Agent, createServer, request as httpRequest, Server } from 'node:http';

/**
 * An HTTP proxy in front of DynamoDB Local that counts the calls passing
 * through it by operation (from the X-Amz-Target header). A slimmed copy of
 * bench/counting-proxy.ts: the consumer apps point DYNAMODB_ENDPOINT here.
 */
export class CountingProxy {
  private server: Server | undefined;
  /** Its own connections to DynamoDB Local, closed with the proxy (the global agent would keep them open). */
  private readonly agent = new Agent({ keepAlive: true });
  private calls: Record<string, number> = {};

  constructor(private readonly target: URL) {}

  /** The calls counted since the last take(), by operation; the counter restarts at zero. */
  take(): Record<string, number> {
    const calls = this.calls;
    this.calls = {};
    return calls;
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
        this.calls[operation] = (this.calls[operation] ?? 0) + 1;
        const upstream = httpRequest(
          { host: this.target.hostname, port: this.target.port, path: req.url, method: req.method, headers: req.headers, agent: this.agent },
          (up) => {
            res.writeHead(up.statusCode ?? 500, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(Buffer.concat(chunks));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.agent.destroy();
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
