/**
 * The model-based session tests of session-model.spec.ts, on DynamoDB Local
 * behind the fault proxy: the real store, its SDK retries, deadlines and
 * writeToken read-back under throttling, 5xx and connections cut before or
 * after DynamoDB applied the call. Fewer runs than on MemoryStore.
 *
 * On failure jest prints the seed, the path and the shrunk command list;
 * replay it with FC_SEED=<seed> FC_PATH=<path> FC_REPLAY_PATH=<replayPath>
 * (and -t <test name>). FC_RUNS raises the run count; FC_SHRINK=0 skips shrinking.
 * A replay repeats the commands and the proxy's fault draws, but the SDK's
 * retry timing and retry quota may still change which calls meet them.
 */
import fc from 'fast-check';
import { DynamoDbStore, SessionManager } from '../../lib';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../tools/dynamodb-local';
import { endpoint, LAYOUT_OPTIONS } from '../support/dynamodb';
import { Faults, storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';
import {
  assertModel, CommandSet, timeoutFor, configArb, coreDriver, FaultPlan, Harness, inspectWith, koaDriver, proxyFaultControl, sessionOptions, START_TIME,
} from '../support/model-harness';
import type { ModelConfig } from '../support/model-reference';
import { quietLogger } from '../support/quiet-logger';

/** Default runs per property (DynamoDB Local is slower, and faults cost SDK retries). */
const RUNS = { sequential: 15, overlapping: 15, koa: 8 } as const;

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

const proxyFaultPlanArb: fc.Arbitrary<FaultPlan> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<FaultPlan>({}) },
  { weight: 1, arbitrary: fc.record({ faults: fc.constantFrom(...PROFILES), seed: fc.integer({ min: 1, max: 0x7fffffff }) }).map((proxy): FaultPlan => ({ proxy })) },
);

describe('session model (DynamoDB Local behind the fault proxy)', () => {
  let behind: StoreBehindProxy;
  /** The same table without the proxy: what the model reads to check the store. */
  let direct: DynamoDbStore;

  beforeAll(async () => {
    // Short deadlines so a fault costs little time; still room for the SDK's retries.
    behind = await storeBehindProxy({ readTimeout: 1500, writeTimeout: 2000, requestTimeout: 700 }, 13);
    direct = new DynamoDbStore({
      ...LAYOUT_OPTIONS, tableName: behind.tableName, endpoint: endpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, createIfNotExist: false,
    }, quietLogger);
    await direct.ready();
  }, 60_000);

  afterAll(async () => {
    direct?.client.destroy();
    await behind?.close();
  });

  function harness(http: boolean) {
    return async (cfg: ModelConfig): Promise<Harness> => {
      // One table for every run: each run's sessions have ids of their own.
      const clock = { now: START_TIME };
      const manager = new SessionManager(sessionOptions(cfg, behind.store, clock));
      const driver = http ? await koaDriver(manager) : coreDriver(manager);
      return {
        cfg, clock, manager, driver, faults: proxyFaultControl(behind.proxy, cfg.locking),
        inspect: (key) => inspectWith(direct, key),
        close: async () => {
          behind.proxy.set({});
          await driver.close();
        },
      };
    };
  }

  const sequential: CommandSet = { faults: proxyFaultPlanArb, maxCommands: 15 };
  const overlapping: CommandSet = { faults: fc.constant({}), meta: false, overlaps: true, maxCommands: 10 };
  const overHttp: CommandSet = { faults: proxyFaultPlanArb, overlaps: true, clientInput: true, maxCommands: 10 };

  it('sequential requests with throttling, 5xx and cut connections', async () => {
    await assertModel(configArb(), sequential, harness(false), RUNS.sequential);
  }, timeoutFor(RUNS.sequential, 3000));

  it('two overlapping requests on one session: each conflict policy, with and without locking', async () => {
    await assertModel(configArb({ onStoreError: fc.constant('fail') }), overlapping, harness(false), RUNS.overlapping);
  }, timeoutFor(RUNS.overlapping, 2000));

  it('through a real Koa app: HTTP statuses, Retry-After, and no 500 for client input', async () => {
    await assertModel(configArb(), overHttp, harness(true), RUNS.koa);
  }, timeoutFor(RUNS.koa, 4000));
});
