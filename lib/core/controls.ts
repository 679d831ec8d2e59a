import { MAX_PRINCIPAL_BYTES } from './item-size';

/** setMaxInactiveInterval's argument; `rotationPeriod`: the store's rotated tables live two of them. */
export function checkMaxInactiveInterval(seconds: number, rotationPeriod: number | undefined): void {
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new RangeError(`setMaxInactiveInterval needs a positive whole number of seconds, got ${seconds}`);
  }
  if (rotationPeriod !== undefined && seconds > rotationPeriod) {
    throw new RangeError(
      `setMaxInactiveInterval(${seconds}) is longer than the table rotation period (${rotationPeriod} s): ` +
        "rotated tables are dropped after two periods, so the session would vanish before its idle timeout. Use expiry: 'ttl' for longer sessions.",
    );
  }
}

/** setPrincipal's (or login's) argument: a short user id (it is stored with the session and indexed), or null. */
export function checkPrincipal(principal: string | null, caller: 'setPrincipal' | 'login' = 'setPrincipal'): void {
  if (principal === null && caller === 'setPrincipal') return;
  if (typeof principal !== 'string' || principal === '') {
    throw new TypeError(`${caller} needs a non-empty string (a user id)${caller === 'setPrincipal' ? ', or null' : ''}`);
  }
  if (Buffer.byteLength(principal, 'utf8') > MAX_PRINCIPAL_BYTES) {
    throw new RangeError(`${caller} needs a user id of at most ${MAX_PRINCIPAL_BYTES} bytes; store a short stable id, not a profile`);
  }
}
