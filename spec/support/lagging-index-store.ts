import { MemoryStore } from '../../lib';
import type { PrincipalSession } from '../../lib';
import type { DestroyOutcome } from '../../lib/core/session-store';

/**
 * A MemoryStore whose principal "index" behaves as a DynamoDB GSI may: it still lists sessions deleted a
 * moment ago, and with `barrier` set, answers only once that many queries wait (logins that each see the other).
 * DynamoDB Local updates its indexes at once, so the lag is simulated here.
 */
export class LaggingIndexStore extends MemoryStore {
  private readonly ghosts: Array<PrincipalSession & { readonly principal: string }> = [];
  private waiting: Array<() => void> = [];
  barrier = 0;

  override async destroy(key: string, expectedVersion?: number): Promise<DestroyOutcome> {
    const before = await this.get(key);
    const outcome = await super.destroy(key, expectedVersion);
    if (outcome.status === 'destroyed' && before?.principal !== undefined) {
      const { principal, createdAt, lastAccessedAt, expiresAt } = before;
      this.ghosts.push({ key, principal, createdAt, lastAccessedAt, expiresAt });
    }
    return outcome;
  }

  override async findByPrincipal(principal: string, now = Date.now()): Promise<PrincipalSession[]> {
    if (this.barrier > 1) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.waiting.length >= this.barrier) for (const release of this.waiting.splice(0)) release();
      });
    }
    const live = await super.findByPrincipal(principal, now);
    const ghosts = this.ghosts.filter((g) => g.principal === principal && !live.some((l) => l.key === g.key));
    return [...live, ...ghosts.map(({ principal: _, ...listed }) => listed)];
  }

  /** What is really stored, without the lag. */
  live(principal: string, now: number): Promise<PrincipalSession[]> {
    return super.findByPrincipal(principal, now);
  }
}
