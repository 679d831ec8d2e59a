import { SessionStoreError } from './errors';
import { hasExpired } from './expiry';
import { storageKeyOf } from './ids';
import { HeldLease, readSession } from './lease';
import type { RequestInfo, SessionRuntime } from './request-types';
import type { StoredSession } from './session-store';
import { SIGNED_LENGTH } from './signer';

/** What a request's id leads to. */
export interface LoadedItem {
  /** The live session under the id; absent: no id, a bad one, or no live session under it (a new session starts). */
  readonly found?: { readonly id: string; readonly key: string; readonly stored: StoredSession; readonly signedWithOldSecret: boolean };
  /** Under locking, the lease the read took (also of an item found expired): the commit gives it back. */
  readonly lease?: HeldLease | undefined;
  /** The read failed under onStoreError 'continue-without-session': an unsaved session, and no writes. */
  readonly detachedBy?: SessionStoreError;
}

/**
 * Verifies the request's id (signature, shape: no store call for a bad one) and reads its session, taking the
 * lease under locking. An expired session is reported and not adopted.
 */
export async function loadItem(runtime: SessionRuntime, request: RequestInfo, readOnly: boolean): Promise<LoadedItem> {
  const { signer, transport, events, options } = runtime;
  const raw = transport.read(request.headers);
  const verified = raw ? signer.verify(raw) : undefined;
  if (raw && !verified) events.emit('invalid', { reason: raw.length === SIGNED_LENGTH ? 'bad-signature' : 'malformed' });
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
  if (stored && hasExpired(stored, options.now())) {
    events.emit('expired', { key });
    return { lease };
  }
  return stored ? { found: { id: verified.id, key, stored, signedWithOldSecret: verified.signedWithOldSecret }, lease } : { lease };
}
