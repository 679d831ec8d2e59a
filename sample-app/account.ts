/**
 * What the Koa and the NestJS samples share about the account: the "Your devices" list, the handle a
 * "Sign out" button sends back, and the e-mail change that needs a recent login.
 */
import type { OtherSession } from 'dynamo-session';

/** "Change e-mail" needs a login (session.login) within the last 5 minutes; otherwise the page asks for the name again. */
export const FRESH_AUTH_SECONDS = 5 * 60;

/** Longer names and e-mail addresses are refused: the session is no place for megabytes of client text. */
export const MAX_TEXT_LENGTH = 200;

/** Enough of a check for a sample: one @ with something on both sides, no spaces. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** What otherSessions() returns is a storage key (the id's SHA-256, base64url): anything else names no session. */
const HANDLE = /^[A-Za-z0-9_-]{1,100}$/;

/** What is wrong with a client's e-mail address, or undefined when the sample takes it (trimmed). */
export function emailProblem(email: string): string | undefined {
  if (email.length > MAX_TEXT_LENGTH) return `email is longer than ${MAX_TEXT_LENGTH} characters`;
  return EMAIL.test(email) ? undefined : 'email is not an e-mail address';
}

/** The handle a "Sign out" button sends; undefined when it cannot be one (the library answers 404 for one of no session of this user). */
export function handleOf(value: unknown): string | undefined {
  return typeof value === 'string' && HANDLE.test(value) ? value : undefined;
}

/** A device as the page lists it: the user's own sessions only, and only what the list shows. */
export interface Device {
  readonly handle: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Epoch milliseconds of its last stored write or touch. */
  readonly lastSeenAt: number;
}

export function devicesOf(others: readonly OtherSession[]): Device[] {
  return others.map((o) => ({ handle: o.handle, userAgent: o.userAgent ?? null, ip: o.ip ?? null, createdAt: o.createdAt, lastSeenAt: o.lastAccessedAt }));
}
