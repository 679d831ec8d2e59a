import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
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
  /**
   * Writes only (LATE_WRITE_OPERATIONS): the connection is cut as if the answer was lost (the client cannot
   * tell whether the write was applied, and may retry), and the call reaches DynamoDB only `lateMs` later,
   * after other calls (the SDK's retries, the store's read-backs, other requests): a write applied late.
   * A draw of `late` on any other operation passes it untouched.
   */
  late?: number;
  /** How late a `late` write lands: ms, or a [min, max] range drawn from the seeded generator. Default LATE_MS; at most MAX_LATE_MS. */
  lateMs?: number | readonly [number, number];
  /** Added before forwarding, to every call. */
  latencyMs?: number;
  /** Only these operations (`GetItem`, `Query`, `UpdateItem`, ...) meet faults; all when absent. */
  operations?: readonly string[];
  /** Fences (a write token added to `fences`, a part's claim fence) pass untouched: the store's fenced path runs. */
  spareFences?: boolean;
  /** Only calls on a split session's part items meet faults (the head's write passes, its parts' do not). */
  partsOnly?: boolean;
}

export type FaultKind = 'throttle' | 'serverError' | 'dropBefore' | 'dropAfter' | 'late' | 'unprocessed';

/** A call as the proxy sees it: the operation and its JSON input (as sent, low-level attribute values). */
export interface ProxiedCall {
  readonly operation: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/**
 * One step of a scripted fault sequence: the next `times` calls of the given
 * operations (all when absent) that `where` accepts meet `fault` ('pass': forwarded untouched).
 */
export interface ScriptedFault {
  fault: FaultKind | 'pass';
  operations?: readonly string[];
  /** Only calls this accepts consume the step, e.g. `onPartItem`. */
  where?: (call: ProxiedCall) => boolean;
  /** Default 1; Infinity keeps the step for good. */
  times?: number;
  /** For `late`: how many ms later the write lands (default LATE_MS[0]; at most MAX_LATE_MS). */
  lateMs?: number;
}

/** The operations that can land late: the writes. */
export const LATE_WRITE_OPERATIONS: readonly string[] = ['UpdateItem', 'PutItem', 'DeleteItem', 'BatchWriteItem'];
/** Default delay range of a late write. */
export const LATE_MS: readonly [number, number] = [200, 2000];
/** No late write waits longer than this; `settleLate()` waits at most about this long. */
export const MAX_LATE_MS = 5000;
/** At most this many late writes wait at once; a `late` draw beyond it is a `dropAfter` (applied now, answer cut). */
export const MAX_PENDING_LATE = 16;

/** What became of a write the proxy held back (`late`). */
export interface LateWrite {
  /** 1, 2, ... in the order the proxy held them back. */
  readonly id: number;
  readonly operation: string;
  /** The item's partition key and sort key (`sessionId`, `part`), when the call names one item. */
  readonly key: string | undefined;
  readonly part: string | undefined;
  readonly delayMs: number;
  /** pending: not forwarded yet (or no answer yet); applied: DynamoDB answered 200; refused: it answered an error (a condition failed, ...); failed: it could not be reached. */
  state: 'pending' | 'applied' | 'refused' | 'failed';
  /** DynamoDB's error type when refused, e.g. ConditionalCheckFailedException. */
  error?: string;
}

const DYNAMODB_ERROR = 'com.amazonaws.dynamodb.v20120810#';

interface HeldWrite {
  readonly record: LateWrite;
  readonly forward: () => Promise<void>;
  /** Settles once DynamoDB answered the forwarded write (or could not be reached). */
  readonly landed: Promise<void>;
  readonly markLanded: () => void;
  timer: NodeJS.Timeout | undefined;
  forwarded: boolean;
}

/**
 * An HTTP proxy in front of DynamoDB Local that injects the faults real
 * DynamoDB shows under load: throttling, 5xx, latency, dropped connections and
 * writes whose answer is lost and that DynamoDB applies seconds later, each for
 * a share of calls, from a seeded generator so runs repeat. It listens on
 * 127.0.0.1 and forwards only to a loopback address.
 */
export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private faults: Faults = {};
  private script: Array<ScriptedFault & { times: number }> = [];
  private random: () => number;
  private readonly held = new Set<HeldWrite>();
  private readonly lateLog: LateWrite[] = [];
  private lateSeq = 0;
  /** Every fence sent (fenceIdOf), in order, and whether any attempt of it reached DynamoDB. */
  private readonly fenceLog = new Map<string, { readonly seq: number; reached: boolean }>();
  private fenceSeq = 0;
  /** Calls seen per operation, and faults injected per kind. */
  readonly calls: Record<string, number> = {};
  readonly injected: Record<FaultKind, number> = { throttle: 0, serverError: 0, dropBefore: 0, dropAfter: 0, late: 0, unprocessed: 0 };

  constructor(
    private readonly target: URL,
    seed = 1,
  ) {
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error(`FaultProxy forwards to a loopback address only, not ${target.hostname}`);
    this.random = mulberry32(seed);
  }

  /** Faults for the calls from now on. */
  set(faults: Faults, seed?: number): void {
    this.faults = faults;
    if (seed !== undefined) this.random = mulberry32(seed);
  }

  /**
   * Faults for the next calls, in order: a call of an operation the first step
   * names (and `where` accepts) consumes it; other calls, and all calls once the script ran out, meet
   * the shares of `set()`. E.g. the first UpdateItem applied but its answer cut,
   * every later one throttled: `[{ fault: 'dropAfter', operations: ['UpdateItem'] },
   * { fault: 'throttle', operations: ['UpdateItem'], times: Infinity }]`; the next write of
   * a split session's part lands 1500 ms late: `[{ fault: 'late', operations: ['UpdateItem'], where: onPartItem, lateMs: 1500 }]`.
   */
  queue(steps: readonly ScriptedFault[]): void {
    this.script = steps.map((step) => ({ ...step, times: step.times ?? 1 }));
  }

  /** Every write held back so far (`late`), in order, with what became of it. */
  lateWrites(sinceId = 0): readonly LateWrite[] {
    return this.lateLog.filter((w) => w.id > sinceId);
  }

  /** The id of the last write held back (0: none yet): a mark for `lateWrites(since)`. */
  get lastLateId(): number {
    return this.lateSeq;
  }

  /** A mark for `unfencedSince(mark)`: the number of fences sent so far. */
  get fenceMark(): number {
    return this.fenceSeq;
  }

  /**
   * Fences first sent after `mark` none of whose attempts reached DynamoDB (each was throttled, failed, cut
   * before forwarding, or held back to land late): the writes they were to stop may still land at any time.
   */
  unfencedSince(mark: number): number {
    return [...this.fenceLog.values()].filter((f) => f.seq > mark && !f.reached).length;
  }

  /** Late writes not landed yet (held back, or forwarded and not answered). */
  get pendingLate(): number {
    return this.held.size;
  }

  /** Waits until every held-back write has landed at its time (bounded: at most about MAX_LATE_MS). */
  async settleLate(): Promise<void> {
    const waiting = Promise.all([...this.held].map((h) => h.landed));
    await Promise.race([waiting, sleep(MAX_LATE_MS + 2000)]);
    if (this.held.size > 0) await this.flushLate();
  }

  /** Forwards every held-back write now, without waiting for its time, and waits for their answers. */
  async flushLate(): Promise<void> {
    await Promise.all([...this.held].map((h) => this.land(h)));
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

  /** Lands the writes still held back (so none reaches a table after its owner dropped it), then stops. */
  async close(): Promise<void> {
    await this.flushLate();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
      this.calls[operation] = (this.calls[operation] ?? 0) + 1;
      const body = Buffer.concat(chunks);
      const fenceId = operation === 'UpdateItem' ? fenceIdOf(body) : undefined;
      if (fenceId !== undefined && !this.fenceLog.has(fenceId)) this.fenceLog.set(fenceId, { seq: ++this.fenceSeq, reached: false });
      const picked = this.pick(operation, body, fenceId !== undefined);
      const fault = picked.fault === 'late' && this.held.size >= MAX_PENDING_LATE ? 'dropAfter' : picked.fault;
      if (fault) this.injected[fault]++;
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
          case 'late':
            req.socket.destroy(); // the answer is lost: the client cannot tell whether, or when, the write lands
            return this.hold(operation, req.url, req.method, req.headers, body, picked.lateMs);
          default:
            return this.forward(req, res, body, fault === 'dropAfter', () => {
              const fence = fenceId === undefined ? undefined : this.fenceLog.get(fenceId);
              if (fence) fence.reached = true;
            });
        }
      }, this.faults.latencyMs ?? 0);
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse, body: Buffer, dropAnswer: boolean, reached: () => void): void {
    send(this.target, req.url, req.method, req.headers, body).then(
      (answer) => {
        reached();
        if (dropAnswer) return req.socket.destroy();
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      },
      () => req.socket.destroy(),
    );
  }

  /** Holds a write back: it reaches DynamoDB `lateMs` from now (or when flushed), and its answer goes nowhere. */
  private hold(operation: string, url: string | undefined, method: string | undefined, headers: IncomingHttpHeaders, body: Buffer, lateMs: number): void {
    const { key, part } = itemKeyOf(body);
    const record: LateWrite = { id: ++this.lateSeq, operation, key, part, delayMs: lateMs, state: 'pending' };
    this.lateLog.push(record);
    let markLanded!: () => void;
    const landed = new Promise<void>((resolve) => (markLanded = resolve));
    const held: HeldWrite = {
      record,
      landed,
      markLanded,
      timer: undefined,
      forwarded: false,
      forward: async () => {
        try {
          const answer = await send(this.target, url, method, headers, body);
          if (answer.status === 200) record.state = 'applied';
          else {
            record.state = 'refused';
            record.error = errorTypeOf(answer.body);
          }
        } catch {
          record.state = 'failed';
        }
      },
    };
    this.held.add(held);
    held.timer = setTimeout(() => void this.land(held), lateMs);
  }

  /** Forwards a held-back write (once) and forgets it once DynamoDB answered. */
  private land(held: HeldWrite): Promise<void> {
    if (held.timer) clearTimeout(held.timer);
    held.timer = undefined;
    if (!held.forwarded) {
      held.forwarded = true;
      void held.forward().finally(() => {
        this.held.delete(held);
        held.markLanded();
      });
    }
    return held.landed;
  }

  /** The script's next step if it names this call, else one draw decides, so the shares add up as given. */
  private pick(operation: string, body: Buffer, fence: boolean): { fault: FaultKind | undefined; lateMs: number } {
    const step = this.script[0];
    if (step && (!step.operations || step.operations.includes(operation)) && (!step.where || step.where({ operation, input: parseInput(body) }))) {
      if (--step.times <= 0) this.script.shift();
      const fault = step.fault === 'pass' || (step.fault === 'late' && !LATE_WRITE_OPERATIONS.includes(operation)) ? undefined : step.fault;
      return { fault, lateMs: clampLate(step.lateMs ?? LATE_MS[0]) };
    }
    const f = this.faults;
    const spared = (f.operations && !f.operations.includes(operation)) || (f.spareFences && fence) || (f.partsOnly && !onPartItem({ operation, input: parseInput(body) }));
    if (spared) return { fault: undefined, lateMs: 0 };
    let draw = this.random();
    for (const kind of ['throttle', 'serverError', 'dropBefore', 'dropAfter', 'late'] as const) {
      const share = f[kind] ?? 0;
      if (draw < share) {
        if (kind !== 'late') return { fault: kind, lateMs: 0 };
        if (!LATE_WRITE_OPERATIONS.includes(operation)) return { fault: undefined, lateMs: 0 };
        const range = f.lateMs ?? LATE_MS;
        const lateMs = typeof range === 'number' ? range : range[0] + Math.floor(this.random() * (range[1] - range[0] + 1));
        return { fault: 'late', lateMs: clampLate(lateMs) };
      }
      draw -= share;
    }
    return { fault: undefined, lateMs: 0 };
  }
}

function clampLate(ms: number): number {
  return Math.min(MAX_LATE_MS, Math.max(0, Math.floor(ms)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function parseInput(body: Buffer): Record<string, unknown> {
  try {
    const input = JSON.parse(body.toString('utf8')) as unknown;
    return input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The `sessionId` and `part` of the one item a call names (UpdateItem, PutItem, DeleteItem), if any. */
function itemKeyOf(body: Buffer): { key: string | undefined; part: string | undefined } {
  const input = parseInput(body);
  const key = (input['Key'] ?? input['Item']) as Record<string, { S?: string }> | undefined;
  return { key: key?.['sessionId']?.S, part: key?.['part']?.S };
}

/**
 * The fence a call sends, if it is one (lib/store/dynamodb/fences.ts and split-parts.ts): a write token added to
 * an item's `fences` (`ADD #f :t`), or a claim set as a part's fence `f`. Retries of one fence share its id.
 */
function fenceIdOf(body: Buffer): string | undefined {
  const input = parseInput(body);
  const expression = input['UpdateExpression'];
  if (typeof expression !== 'string') return undefined;
  const { key, part } = itemKeyOf(body);
  const values = (input['ExpressionAttributeValues'] ?? {}) as Record<string, { SS?: string[]; N?: string }>;
  if (expression.startsWith('ADD #f :t')) return `token ${key} ${part} ${values[':t']?.SS?.[0]}`;
  const names = (input['ExpressionAttributeNames'] ?? {}) as Record<string, string>;
  const alias = Object.keys(names).find((n) => names[n] === 'f');
  const set = alias === undefined ? undefined : new RegExp(`(?:SET |, )${alias} = (:\\w+)`).exec(expression);
  return set ? `claim ${key} ${part} ${values[set[1]!]?.N}` : undefined;
}

/** A call on a split session's part item (sort key other than the head's '#'). */
export function onPartItem(call: ProxiedCall): boolean {
  const key = (call.input['Key'] ?? call.input['Item']) as Record<string, { S?: string }> | undefined;
  const part = key?.['part']?.S;
  return part !== undefined && part !== '#';
}

/** A call on a session's head (split layout) or its one item (single layout). */
export function onHeadItem(call: ProxiedCall): boolean {
  const key = (call.input['Key'] ?? call.input['Item']) as Record<string, { S?: string }> | undefined;
  return key?.['sessionId'] !== undefined && !onPartItem(call);
}

function errorTypeOf(body: Buffer): string | undefined {
  const type = parseInput(body)['__type'];
  return typeof type === 'string' ? type.split('#').pop() : undefined;
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function send(target: URL, path: string | undefined, method: string | undefined, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const upstream = httpRequest({ host: target.hostname, port: target.port, path, method, headers }, (up) => {
      const out: Buffer[] = [];
      up.on('data', (c: Buffer) => out.push(c));
      up.on('end', () => resolve({ status: up.statusCode ?? 500, headers: up.headers, body: Buffer.concat(out) }));
      up.on('error', reject);
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
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
  /** The proxy's address, for more clients of the same table (e.g. other nodes). */
  readonly endpoint: string;
  readonly store: DynamoDbStore;
  readonly tableName: string;
  /** Lands any late writes, closes the proxy and drops the table. */
  readonly close: () => Promise<void>;
}

export async function storeBehindProxy(options: DynamoDbStoreOptions = {}, seed?: number): Promise<StoreBehindProxy> {
  const proxy = new FaultProxy(new URL(endpoint()), seed);
  const tableName = randomTableName('faults');
  const proxyEndpoint = await proxy.listen();
  const store = new DynamoDbStore({ ...LAYOUT_OPTIONS, ...options, tableName, endpoint: proxyEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }, quietLogger);
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
  return { proxy, endpoint: proxyEndpoint, store, tableName, close };
}
