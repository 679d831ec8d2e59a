import { createServer, request as httpRequest, Server } from 'node:http';

/** What one phase of the benchmark cost in DynamoDB. */
export interface DynamoCost {
  calls: number;
  byOperation: Record<string, number>;
  rcu: number;
  wcu: number;
  /** Request plus response bytes on the wire to DynamoDB. */
  bytes: number;
  /** CPU ms DynamoDB Local spent meanwhile (set by the benchmark, not the proxy). */
  localCpuMs?: number;
}

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);
const ITEM_OPERATIONS = new Set([...READS, 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export function emptyCost(): DynamoCost {
  return { calls: 0, byOperation: {}, rcu: 0, wcu: 0, bytes: 0 };
}

/**
 * An HTTP proxy in front of DynamoDB Local that every target talks to. It asks
 * for ReturnConsumedCapacity on item operations (Local does not check
 * signatures, so the body may change) and adds up calls, capacity and bytes.
 */
export class CountingProxy {
  private server: Server | undefined;
  cost: DynamoCost = emptyCost();

  constructor(private readonly target: URL) {}

  reset(): DynamoCost {
    const cost = this.cost;
    this.cost = emptyCost();
    return cost;
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
        let body = Buffer.concat(chunks);
        if (ITEM_OPERATIONS.has(operation)) {
          const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
          json['ReturnConsumedCapacity'] = 'TOTAL';
          body = Buffer.from(JSON.stringify(json));
        }
        const upstream = httpRequest(
          { host: this.target.hostname, port: this.target.port, path: req.url, method: req.method, headers: { ...req.headers, 'content-length': String(body.length) } },
          (up) => {
            const out: Buffer[] = [];
            up.on('data', (c: Buffer) => out.push(c));
            up.on('end', () => {
              const response = Buffer.concat(out);
              this.record(operation, body.length + response.length, response);
              res.writeHead(up.statusCode ?? 500, up.headers);
              res.end(response);
            });
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private record(operation: string, bytes: number, response: Buffer): void {
    const cost = this.cost;
    cost.calls++;
    cost.byOperation[operation] = (cost.byOperation[operation] ?? 0) + 1;
    cost.bytes += bytes;
    if (!ITEM_OPERATIONS.has(operation)) return;
    try {
      const consumed = (JSON.parse(response.toString('utf8')) as { ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> }).ConsumedCapacity;
      const units = ([] as Array<{ CapacityUnits?: number }>).concat(consumed ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
      if (READS.has(operation)) cost.rcu += units;
      else cost.wcu += units;
    } catch {
      // an error body without capacity: counted as a call only
    }
  }
}
