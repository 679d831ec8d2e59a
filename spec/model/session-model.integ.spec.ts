/**
 * The model-based session tests of session-model.spec.ts, on DynamoDB Local
 * behind the fault proxy: the real store, its SDK retries, deadlines and
 * writeToken read-back under throttling, 5xx, connections cut before or
 * after DynamoDB applied the call, and writes whose answer was lost that
 * DynamoDB applies later (after other requests). Two or three nodes share the
 * table, each a SessionManager and a store with its own SDK client, on clocks
 * skewed by up to ±30 s. Fewer runs than on MemoryStore.
 *
 * On failure jest prints the seed, the path and the shrunk command list;
 * replay it with FC_SEED=<seed> FC_PATH=<path> FC_REPLAY_PATH=<replayPath>
 * (and -t <test name>). FC_RUNS raises the run count; FC_SHRINK=0 skips shrinking.
 * A replay repeats the commands and the proxy's fault draws (and late writes'
 * delays), but the SDK's retry timing and retry quota, and when a late write
 * lands among the next requests, may still change the outcome.
 */
import fc from 'fast-check';
import { DynamoDbStore, SessionManager } from '../../lib';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { endpoint, LAYOUT, LAYOUT_OPTIONS } from '../support/dynamodb';
import { Faults, storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';
import {
  assertModel, CommandSet, timeoutFor, configArb, coreDriver, FaultPlan, Harness, inspectWith, koaDriver, longValueArb, proxyFaultControl, sessionOptions, skewsArb, START_TIME,
} from '../support/model-harness';
import type { ModelConfig } from '../support/model-reference';
import { quietLogger } from '../support/quiet-logger';

/** Default runs per property (DynamoDB Local is slower, and faults cost SDK retries and late writes real time). */
const RUNS = { sequential: 60, lateThenAcked: 20, overlapping: 15, koa: 12 } as const;
/** Expected ms per run, for the jest timeout (three times that) and the search's own time limit. */
const MS_PER_RUN = { sequential: 1500, lateThenAcked: 3000, overlapping: 2000, koa: 4000 } as const;

/** The simulated nodes: at most this many stores (each its own SDK client) share the table. */
const MAX_NODES = 3;

/** Shares of calls that meet each fault, for one command; the proxy draws them from the command's seed. */
const PROFILES: readonly Faults[] = [
  { dropAfter: 0.5 },
  { dropBefore: 0.5 },
  { throttle: 0.5 },
  { serverError: 0.5 },
  { dropAfter: 0.4, dropBefore: 0.3 },
  { throttle: 0.5, dropAfter: 0.5 },
  // Every attempt fails: the request must answer 503, unless the writeToken read-back proves the write landed.
  { dropBefore: 1 },
  { dropAfter: 1 },
  { throttle: 1 },
];

/**
 * Writes whose answer is lost and that DynamoDB applies later: after the SDK's retries and the store's read-back
 * (a few hundred ms), or after the next requests (up to two seconds).
 */
const LATE_PROFILES: readonly Faults[] = [
  { late: 0.5, lateMs: [200, 2000] },
  { late: 1, lateMs: [200, 2000] },
  { late: 1, lateMs: [20, 400] },
  { late: 0.5, dropAfter: 0.3, lateMs: [100, 1500] },
  { late: 0.5, throttle: 0.4, lateMs: [100, 1500] },
];

const seedArb = fc.integer({ min: 1, max: 0x7fffffff });
const proxyFaultPlanArb: fc.Arbitrary<FaultPlan> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<FaultPlan>({}) },
  { weight: 1, arbitrary: fc.record({ faults: fc.constantFrom(...PROFILES), seed: seedArb }).map((proxy): FaultPlan => ({ proxy })) },
  { weight: 2, arbitrary: fc.record({ faults: fc.constantFrom(...LATE_PROFILES), seed: seedArb }).map((proxy): FaultPlan => ({ proxy })) },
);

/**
 * Long-held writes, for runs where the next requests (fault-free) are acknowledged while an earlier request's
 * writes are still held back: a fenced write must then be refused when it lands, an unfenced one may land.
 */
const LONG_LATE_PROFILES: readonly Faults[] = [
  // A split session's head write lands and its part writes are held back: the writer fences its claim and answers 503.
  // (Twice: defect 1's part write landing past a fence shows here, once a later request acknowledged another attribute.)
  { late: 1, spareFences: true, partsOnly: true, lateMs: [500, 4000] },
  { late: 1, spareFences: true, partsOnly: true, lateMs: [1000, 4000] },
  // The same with the claim's fence held back too: the claim stays until a reader fences it.
  { late: 1, partsOnly: true, lateMs: [500, 4000] },
  { late: 1, spareFences: true, lateMs: [500, 4000] },
  { late: 0.5, spareFences: true, lateMs: [500, 4000] },
  { late: 0.5, lateMs: [1000, 4000] },
  { late: 0.5, throttle: 0.5, lateMs: [500, 3000] },
];
const lateThenAckedArb: fc.Arbitrary<FaultPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<FaultPlan>({}) },
  { weight: 1, arbitrary: fc.record({ faults: fc.constantFrom(...LONG_LATE_PROFILES), seed: seedArb }).map((proxy): FaultPlan => ({ proxy })) },
);

/** Two or three nodes per run, each clock skewed by up to ±30 s. */
const configs = (overrides: Parameters<typeof configArb>[0] = {}): fc.Arbitrary<ModelConfig> => configArb({ skews: skewsArb(2, MAX_NODES), ...overrides });

describe('session model (DynamoDB Local behind the fault proxy, several skewed nodes)', () => {
  let behind: StoreBehindProxy;
  /** One store per node, each with its own SDK client through the proxy, on the node's clock. */
  const stores: DynamoDbStore[] = [];
  /** The same table without the proxy: what the model reads to check the store. */
  let direct: DynamoDbStore;
  /** The true time of the current run, and its nodes' skews: the stores' clocks read them. */
  const clock = { now: START_TIME };
  const skews: number[] = new Array<number>(MAX_NODES).fill(0);

  beforeAll(async () => {
    // Short deadlines so a fault costs little time; still room for the SDK's retries.
    const timeouts = { readTimeout: 1500, writeTimeout: 2000, requestTimeout: 700 };
    behind = await storeBehindProxy({ ...timeouts, now: () => clock.now + skews[0]! }, 13);
    stores.push(behind.store);
    for (let node = 1; node < MAX_NODES; node++) {
      const store = new DynamoDbStore({
        ...LAYOUT_OPTIONS, ...timeouts, tableName: behind.tableName, endpoint: behind.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS,
        createIfNotExist: false, now: () => clock.now + skews[node]!,
      }, quietLogger);
      await store.ready();
      stores.push(store);
    }
    direct = new DynamoDbStore({
      ...LAYOUT_OPTIONS, tableName: behind.tableName, endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, createIfNotExist: false, now: () => clock.now,
    }, quietLogger);
    await direct.ready();
  }, 60_000);

  afterAll(async () => {
    for (const store of stores.slice(1)) store.client.destroy();
    direct?.client.destroy();
    await behind?.close();
  });

  function harness(http: boolean) {
    return async (cfg: ModelConfig): Promise<Harness> => {
      // One table for every run: each run's sessions have ids of their own.
      clock.now = START_TIME;
      cfg.skews.forEach((skew, node) => (skews[node] = skew));
      const nodes = await Promise.all(cfg.skews.map(async (skew, node) => {
        const manager = new SessionManager(sessionOptions(cfg, stores[node]!, clock, skew));
        return { manager, driver: http ? await koaDriver(manager) : coreDriver(manager) };
      }));
      return {
        cfg, clock, nodes, layout: LAYOUT, faults: proxyFaultControl(behind.proxy, cfg.locking),
        inspect: (key) => inspectWith(direct, key),
        close: async () => {
          behind.proxy.set({});
          // Nothing a run held back lands in the next one.
          await behind.proxy.flushLate();
          await Promise.all(nodes.map((n) => n.driver.close()));
        },
      };
    };
  }

  const sequential: CommandSet = { faults: proxyFaultPlanArb, maxCommands: 15 };
  const overlapping: CommandSet = { faults: fc.constant({}), meta: false, overlaps: true, maxCommands: 10 };
  const lateThenAcked: CommandSet = { faults: lateThenAckedArb, meta: false, maxCommands: 16, requestWeight: 10, values: longValueArb, names: fc.constantFrom('cart', 'a') };
  const overHttp: CommandSet = { faults: proxyFaultPlanArb, overlaps: true, clientInput: true, maxCommands: 10 };

  it('sequential requests with throttling, 5xx, cut connections and late writes, on skewed nodes', async () => {
    await assertModel(configs(), sequential, harness(false), RUNS.sequential, MS_PER_RUN.sequential);
  }, timeoutFor(RUNS.sequential, MS_PER_RUN.sequential));

  it('writes held back for seconds while later requests are acknowledged, on skewed nodes, without locking', async () => {
    // Under locking, late writes stay off UpdateItem (proxyFaultControl): these runs are where they meet later acknowledged writes.
    // Long-lived sessions, so the requests after a late one mostly find the session it wrote to.
    // Long values stay uncompressed (compressThreshold 4096), so in the split layout they are parts.
    const cfg = configs({ locking: fc.constant(false), maxInactiveInterval: fc.constant(1800), absoluteTimeout: fc.constant(undefined), compressThreshold: fc.constant(4096) });
    await assertModel(cfg, lateThenAcked, harness(false), RUNS.lateThenAcked, MS_PER_RUN.lateThenAcked);
  }, timeoutFor(RUNS.lateThenAcked, MS_PER_RUN.lateThenAcked));

  it('two overlapping requests on one session, on two nodes: each conflict policy, with and without locking', async () => {
    await assertModel(configs({ onStoreError: fc.constant('fail') }), overlapping, harness(false), RUNS.overlapping, MS_PER_RUN.overlapping);
  }, timeoutFor(RUNS.overlapping, MS_PER_RUN.overlapping));

  it('through real Koa apps: HTTP statuses, Retry-After, and no 500 for client input', async () => {
    await assertModel(configs(), overHttp, harness(true), RUNS.koa, MS_PER_RUN.koa);
  }, timeoutFor(RUNS.koa, MS_PER_RUN.koa));
});
