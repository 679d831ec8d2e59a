import { decodeAttributes } from './attribute-codec';
import type { Baseline } from './delta';
import { SessionStoreError } from './errors';
import { hasExpired } from './expiry';
import { storageKeyOf } from './ids';
import { HeldLease, readSession, releaseQuietly } from './lease';
import { redacted } from './redact';
import type { RequestInfo, SessionRuntime } from './request-types';
import type { StoredSession } from './session-store';
import { SIGNED_LENGTH, VerifiedId } from './signer';

/** A live session the request's id named, decoded: what the request adopts. */
export interface FoundSession {
  readonly id: string;
  readonly signedWithOldSecret: boolean;
  readonly stored: StoredSession;
  readonly attributes: Record<string, unknown>;
  /** What the commit diffs against. */
  readonly baseline: Baseline;
}

/** What a request's id leads to. */
export interface LoadedItem {
  /** The live session under the id; absent: no id, a bad one, or no live session under it (a new session starts). */
  readonly found?: FoundSession;
  /** Under locking, the lease the read took (also of an item found expired): the commit gives it back. */
  readonly lease?: HeldLease | undefined;
  /** The read failed under onStoreError 'continue-without-session': an unsaved session, and no writes. */
  readonly detachedBy?: SessionStoreError;
}

/** The request's id when its signature verifies: no store call. A bad one is reported. */
function verifiedId({ signer, transport, events }: SessionRuntime, request: RequestInfo): VerifiedId | undefined {
  const raw = transport.read(request.headers);
  const verified = raw ? signer.verify(raw) : undefined;
  if (raw && !verified) events.emit('invalid', { reason: raw.length === SIGNED_LENGTH ? 'bad-signature' : 'malformed' });
  return verified;
}

/** The storage key the request's id names, with no store call: what a destroy() that read nothing ends. */
export function requestedKey(runtime: SessionRuntime, request: RequestInfo): string | undefined {
  const verified = verifiedId(runtime, request);
  return verified && storageKeyOf(verified.id);
}

/**
 * Verifies the request's id (signature, shape: no store call for a bad one) and reads its session, taking the
 * lease under locking, then decodes it. An expired session is reported and not adopted. A session that cannot be
 * decoded fails the load with SessionUnreadableError, having given the lease back: every later request would
 * otherwise wait lockExpiration for it.
 */
export async function loadItem(runtime: SessionRuntime, request: RequestInfo, readOnly: boolean): Promise<LoadedItem> {
  const { events, options } = runtime;
  const verified = verifiedId(runtime, request);
  if (!verified) return {};
  const key = storageKeyOf(verified.id);
  let read: Awaited<ReturnType<typeof readSession>>;
  try {
    read = await readSession(options, key, { method: request.method, path: request.path, ignored: readOnly });
  } catch (error) {
    if (options.onStoreError === 'continue-without-session' && error instanceof SessionStoreError) {
      options.logger.warn(`session store unavailable, serving an unsaved session: ${error.message}`);
      return { detachedBy: error };
    }
    throw error;
  }
  const { stored, lease } = read;
  if (!stored) return { lease };
  if (hasExpired(stored, options.now())) {
    events.emit('expired', { key });
    return { lease };
  }
  const { attributes, fingerprints, values } = await decodeAttributes(stored.data, runtime.codec).catch(async (error: unknown) => {
    if (lease) await releaseQuietly(options.store, lease, options.logger);
    throw error;
  });
  if (options.logSessionContents) options.logger.debug(`session ${key} loaded`, redacted(attributes, options.redact));
  const baseline = { key, version: stored.version, unsettled: stored.unsettled === true, times: stored, fingerprints, values };
  return { found: { id: verified.id, signedWithOldSecret: verified.signedWithOldSecret, stored, attributes, baseline }, lease };
}
