import { SessionStore, SessionStoreUnavailableError, TableNotFoundError } from '../../lib';
import type { Serializer } from '../../lib';
import type {
  DestroyOutcome, LockOutcome, NewSession, PrincipalSession, SessionUpdate, StoredSession, UpdateOutcome,
} from '../../lib/core/session-store';

/**
 * What one store call meets:
 * - `throttle`: refused before anything happens (DynamoDB throttled past the SDK's retries);
 * - `timeout` / `cutBefore`: the call never reached the table, nothing applied;
 * - `cutAfter`: the call was applied, then the answer was lost: an ambiguous failure;
 * - `tableGone`: the table does not exist (deleted under the running app).
 */
export type StoreFault = 'throttle' | 'timeout' | 'cutBefore' | 'cutAfter' | 'tableGone';

export const STORE_FAULTS: readonly StoreFault[] = ['throttle', 'timeout', 'cutBefore', 'cutAfter', 'tableGone'];

/** Store operations a fault can hit. `release` is left out on purpose (see FaultyStore). */
export type FaultableOperation = 'get' | 'create' | 'update' | 'destroy' | 'recordMove' | 'movesOf' | 'acquire' | 'findByPrincipal' | 'destroyByPrincipal';

export interface StoreCall {
  readonly operation: FaultableOperation | 'release';
  readonly key: string;
  readonly fault: StoreFault | undefined;
}

/**
 * A SessionStore around another one (a MemoryStore in the specs) that fails
 * chosen calls the way DynamoDB fails them, so the core's handling of store
 * failures is tested without a network. Faults are queued: each call of a
 * faultable operation takes the next one (`undefined`: no fault).
 *
 * `release` never fails: a release that cannot reach the store legitimately
 * leaves the lease until lockExpiration, which is the designed bound, so
 * faulting it would make "leases are always released" untestable.
 */
export class FaultyStore extends SessionStore {
  private queue: Array<StoreFault | undefined> = [];
  /** Every call since the last `takeCalls()`, in order. */
  private calls: StoreCall[] = [];
  /**
   * Awaited before each call reaches the inner store: lets a fast-check
   * scheduler decide the interleaving of two requests' store calls.
   */
  gate: ((label: string) => Promise<void>) | undefined;

  constructor(readonly inner: SessionStore) {
    super();
  }

  override get serializer(): Serializer | undefined {
    return this.inner.serializer;
  }

  override keyBytes(key: string): number {
    return this.inner.keyBytes(key);
  }

  /** The faults the next faultable calls meet, in order; replaces any left from before. */
  inject(faults: ReadonlyArray<StoreFault | undefined>): void {
    this.queue = [...faults];
  }

  /** The calls made since the last take, and forgets them. */
  takeCalls(): StoreCall[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }

  get(key: string, readOnly?: boolean): Promise<StoredSession | undefined> {
    return this.run('get', key, () => this.inner.get(key, readOnly));
  }

  create(key: string, session: NewSession): Promise<void> {
    return this.run('create', key, () => this.inner.create(key, session));
  }

  update(key: string, update: SessionUpdate): Promise<UpdateOutcome> {
    return this.run('update', key, () => this.inner.update(key, update));
  }

  destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    return this.run('destroy', key, () => this.inner.destroy(key, expectedVersion));
  }

  recordMove(from: string, to: string, expiresAt: number): Promise<void> {
    return this.run('recordMove', from, () => this.inner.recordMove(from, to, expiresAt));
  }

  movesOf(key: string): Promise<readonly string[]> {
    return this.run('movesOf', key, () => this.inner.movesOf(key));
  }

  acquire(key: string, owner: string, leaseUntil: number, now: number): Promise<LockOutcome> {
    return this.run('acquire', key, () => this.inner.acquire(key, owner, leaseUntil, now));
  }

  async release(key: string, owner: string): Promise<void> {
    if (this.gate) await this.gate(`release ${key.slice(0, 6)}`);
    this.calls.push({ operation: 'release', key, fault: undefined });
    return this.inner.release(key, owner);
  }

  findByPrincipal(principal: string, now?: number): Promise<PrincipalSession[]> {
    return this.run('findByPrincipal', principal, () => this.inner.findByPrincipal(principal, now));
  }

  destroyByPrincipal(principal: string): Promise<number> {
    return this.run('destroyByPrincipal', principal, () => this.inner.destroyByPrincipal(principal));
  }

  private async run<T>(operation: FaultableOperation, key: string, call: () => Promise<T>): Promise<T> {
    if (this.gate) await this.gate(`${operation} ${key.slice(0, 6)}`);
    const fault = this.queue.shift();
    this.calls.push({ operation, key, fault });
    switch (fault) {
      case undefined:
        return call();
      case 'throttle':
        throw new SessionStoreUnavailableError(`injected: ${operation} throttled`, { throttled: true, retryAfterSeconds: 2 });
      case 'timeout':
        throw new SessionStoreUnavailableError(`injected: ${operation} timed out before reaching the table`);
      case 'cutBefore':
        throw new SessionStoreUnavailableError(`injected: connection cut before ${operation} reached the table`);
      case 'tableGone':
        throw new TableNotFoundError('faulty-store-table', 'test-region');
      case 'cutAfter':
        // Applied, then the answer is lost: the caller cannot tell it landed.
        await call();
        throw new SessionStoreUnavailableError(`injected: connection cut after ${operation} was applied`);
    }
  }
}
