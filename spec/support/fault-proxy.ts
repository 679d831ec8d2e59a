import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { DynamoDbStore, DynamoDbStoreOptions } from '../../lib';
import { dropTable, endpoint, randomTableName, LAYOUT_OPTIONS } from './dynamodb';
import { quietLogger } from './quiet-logger';

/** Shares of calls (0..1) that meet each fault; the rest pass through untouched. */
export interface Faults {
  /** Answered `400 ProvisionedThroughputExceededException` without reaching DynamoDB. */
  throttle?: number;
  /** Answered `500 InternalServerError` without reaching DynamoDB. */
  serverError?: number;
  /** The connection is cut before the call reaches DynamoDB: nothing was applied. */
  dropBefore?: number;
  /** The call reaches DynamoDB and is applied, then the connection is cut before the answer: an ambiguous write. */
  dropAfter?: number;
  /** Added before forwarding, to every call. */
  latencyMs?: number;
  /** Only these operations (`GetItem`, `Query`, `UpdateItem`, ...) meet faults; all when absent. */
  operations?: readonly string[];
}

export type FaultKind = 'throttle' | 'serverError' | 'dropBefore' | 'dropAfter' | 'unprocessed';

/**
 * One step of a scripted fault sequence: the next `times` calls of the given
 * operations (all when absent) meet `fault` ('pass': forwarded untouched).
 */
export interface ScriptedFault {
  fault: FaultKind | 'pass';
  operations?: readonly string[];
  /** Default 1; Infinity keeps the step for good. */
  times?: number;
}

const DYNAMODB_ERROR = 'com.amazonaws.dynamodb.v20120810#';

/**
 * An HTTP proxy in front of DynamoDB Local that injects the faults real
 * DynamoDB shows under load: throttling, 5xx, latency and dropped connections,
 * each for a share of calls, from a seeded generator so runs repeat.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private faults: Faults = {};
  private script: Array<ScriptedFault & { times: number }> = [];
  private random: () => number;
  /** Calls seen per operation, and faults injected per kind. */
  readonly calls: Record<string, number> = {};
  readonly injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, dropBefore: 0, dropAfter: 0, unprocessed: 0 };

  constructor(
    private readonly target: URL,
    seed = 1,
  ) {
    this.random = mulberry32(seed);
  }

  /** Faults for the calls from now on. */
  set(faults: Faults, seed?: number): void {
    this.faults = faults;
    if (seed !== undefined) this.random = mulberry32(seed);
  }

  /**
   * Faults for the next calls, in order: a call of an operation the first step
   * names consumes it; other calls, and all calls once the script ran out, meet
   * the shares of `set()`. E.g. the first UpdateItem applied but its answer cut,
   * every later one throttled: `[{ fault: 'dropAfter', operations: ['UpdateItem'] },
   * { fault: 'throttle', operations: ['UpdateItem'], times: Infinity }]`.
   */
  queue(steps: readonly ScriptedFault[]): void {
    this.script = steps.map((step) => ({ ...step, times: step.times ?? 1 }));
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      this.calls[operation] = (this.calls[operation] ?? 0) + 1;
      const fault = this.pick(operation);
      if (fault) this.injected[fault]++;
      const body = Buffer.concat(chunks);
      setTimeout(() => {
        switch (fault) {
          case 'throttle':
            return answerError(res, 400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded.');
          case 'serverError':
            return answerError(res, 500, 'InternalServerError', 'Internal server error (injected).');
          case 'dropBefore':
            return req.socket.destroy();
          case 'unprocessed':
            return answerUnprocessed(res, body);
          default:
            return this.forward(req, res, body, fault === 'dropAfter');
        }
      }, this.faults.latencyMs ?? 0);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, dropAnswer: boolean): void {
    const upstream = httpRequest(
      { host: this.target.hostname, port: this.target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        const out: Buffer[] = [];
        up.on('data', (c: Buffer) => out.push(c));
        up.on('end', () => {
          if (dropAnswer) return req.socket.destroy();
          res.writeHead(up.statusCode ?? 500, up.headers);
          res.end(Buffer.concat(out));
        });
      },
    );
    upstream.on('error', () => req.socket.destroy());
    upstream.end(body);
  }

  /** The script's next step if it names this operation, else one draw decides, so the shares add up as given. */
  private pick(operation: string): FaultKind | undefined {
    const step = this.script[0];
    if (step && (!step.operations || step.operations.includes(operation))) {
      if (--step.times <= 0) this.script.shift();
      return step.fault === 'pass' ? undefined : step.fault;
    }
    const f = this.faults;
    if (f.operations && !f.operations.includes(operation)) return undefined;
    let draw = this.random();
    for (const kind of ['throttle', 'serverError', 'dropBefore', 'dropAfter'] as const) {
      const share = f[kind] ?? 0;
      if (draw < share) return kind;
      draw -= share;
    }
    return undefined;
  }
}

/**
 * A BatchWriteItem answered as DynamoDB does when it throttles part of a batch:
 * 200, nothing applied, every request handed back in UnprocessedItems. Scripted
 * only (queue()): other operations have no such answer.
 */
function answerUnprocessed(res: ServerResponse, requestBody: Buffer): void {
  const { RequestItems } = JSON.parse(requestBody.toString('utf8')) as { RequestItems: unknown };
  const body = JSON.stringify({ UnprocessedItems: RequestItems });
  res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'fault-proxy' });
  res.end(body);
}

function answerError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ __type: `${DYNAMODB_ERROR}${type}`, message });
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'fault-proxy' });
  res.end(body);
}

/** A small seeded generator (public domain, Tommy Ettinger): repeatable fault sequences. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A store on a new table whose own SDK client talks through a fault proxy, so the real retries and deadlines are under test. */
export interface StoreBehindProxy {
  readonly proxy: FaultProxy;
  readonly store: DynamoDbStore;
  readonly tableName: string;
  /** Closes the proxy and drops the table. */
  readonly close: () => Promise<void>;
}

export async function storeBehindProxy(options: DynamoDbStoreOptions = {}, seed?: number): Promise<StoreBehindProxy> {
  const proxy = new FaultProxy(new URL(endpoint()), seed);
  const tableName = randomTableName('faults');
  const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, ...options, tableName, endpoint: await proxy.listen(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }, quietLogger);
  const close = async (): Promise<void> => {
    await proxy.close();
    await dropTable(tableName);
  };
  try {
    await store.ready();
  } catch (error) {
    await close();
    throw error;
  }
  return { proxy, store, tableName, close };
}
