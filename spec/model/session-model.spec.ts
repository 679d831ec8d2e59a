/**
 * Model-based tests on MemoryStore: random sequences of requests (load,
 * set/delete attributes, regenerate, destroy, touch, setMaxInactiveInterval,
 * setPrincipal, clock jumps, overlapping requests, replayed and tampered
 * cookies) with injected store faults, served by one to three nodes (managers
 * sharing the store) whose clocks are skewed by up to ±30 s, checked after
 * every command against the plain reference model in spec/support/model-reference.ts.
 *
 * On failure jest prints the seed, the path and the shrunk command list;
 * replay it with FC_SEED=<seed> FC_PATH=<path> FC_REPLAY_PATH=<replayPath>
 * (and -t <test name>). FC_RUNS raises the run count; FC_SHRINK=0 skips shrinking.
 */
import fc from 'fast-check';
import { MemoryStore, SessionManager } from '../../lib';
import { FaultyStore } from '../support/faulty-store';
import {
  assertModel, CommandSet, timeoutFor, configArb, coreDriver, Harness, inspectWith, koaDriver, memoryFaultPlanArb, sessionOptions, START_TIME, storeFaultControl,
} from '../support/model-harness';
import type { ModelConfig } from '../support/model-reference';

/** Default runs per property; the three together stay well inside CI's budget on two cores. */
const RUNS = { sequential: 300, overlapping: 200, koa: 60 } as const;

/** One MemoryStore shared by the run's nodes, each a SessionManager on its own skewed clock. */
function memoryHarness(http: boolean) {
  return async (cfg: ModelConfig): Promise<Harness> => {
    const inner = new MemoryStore();
    const store = new FaultyStore(inner);
    const clock = { now: START_TIME };
    const nodes = await Promise.all(cfg.skews.map(async (skew) => {
      const manager = new SessionManager(sessionOptions(cfg, store, clock, skew));
      return { manager, driver: http ? await koaDriver(manager) : coreDriver(manager) };
    }));
    return {
      cfg, clock, nodes, layout: 'single', faults: storeFaultControl(store),
      inspect: (key) => inspectWith(inner, key),
      close: async () => {
        await Promise.all(nodes.map((n) => n.driver.close()));
      },
    };
  };
}

const sequential: CommandSet = { faults: memoryFaultPlanArb, maxCommands: 25 };
const overlapping: CommandSet = { faults: fc.constant({ store: [] }), meta: false, overlaps: true, maxCommands: 15 };
const overHttp: CommandSet = { faults: memoryFaultPlanArb, overlaps: true, clientInput: true, maxCommands: 15 };

describe('session model (MemoryStore, fake clock, injected store faults)', () => {
  it('sequential requests: every option, every fault, every command', async () => {
    await assertModel(configArb(), sequential, memoryHarness(false), RUNS.sequential);
  }, timeoutFor(RUNS.sequential, 100));

  it('two overlapping requests on one session: each conflict policy, with and without locking', async () => {
    await assertModel(configArb({ onStoreError: fc.constant('fail') }), overlapping, memoryHarness(false), RUNS.overlapping);
  }, timeoutFor(RUNS.overlapping, 150));

  it('through a real Koa app: HTTP statuses, Retry-After, and no 500 for client input', async () => {
    await assertModel(configArb(), overHttp, memoryHarness(true), RUNS.koa);
  }, timeoutFor(RUNS.koa, 400));
});
