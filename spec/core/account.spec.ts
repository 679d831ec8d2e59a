import { expect } from '@jest/globals';
import {
  assertFreshAuth, authAgeOf, checkFreshAuthLimit, clientInfoOf, evictionVictims, MAX_USER_AGENT_CHARS,
} from '../../lib/core/account';
import { SessionConfigError, SessionReauthenticationRequiredError } from '../../lib';
import type { PrincipalSession } from '../../lib';

const s = (key: string, lastAccessedAt: number, createdAt = 0): PrincipalSession => ({ key, createdAt, lastAccessedAt, expiresAt: 9e9 });

describe('evictionVictims: which sessions a login ends under maxSessionsPerPrincipal', () => {
  const found = [s('a', 10), s('b', 30), s('c', 20), s('own-new', 0), s('own-old', 5)];
  const own = new Set(['own-new', 'own-old']);
  it.each<[string, number, readonly PrincipalSession[], string[]]>([
    ['limit 1: every other session goes, the current one stays', 1, found, ['b', 'c', 'a']],
    ['limit 2: the most recently used other stays', 2, found, ['c', 'a']],
    ['limit 3: the two most recent others stay', 3, found, ['a']],
    ['limit 4: nobody over the limit', 4, found, []],
    ['the limit counts only others: the current session and the one it replaced never count or go', 2, [s('own-new', 99), s('own-old', 98), s('x', 1)], []],
    ['equal use: the newer session stays', 2, [s('old', 10, 1), s('new', 10, 2)], ['old']],
    ['equal use and creation: decided by key, whatever order the index answered in', 2, [s('k2', 10, 1), s('k1', 10, 1)], ['k2']],
    ['nothing found (the index has not caught up)', 1, [], []],
    ['a session used at or after the login is never ended (a login at the same moment): over the limit until the next login', 1, [s('same', 1_000), s('later', 1_001), s('before', 999)], ['before']],
  ])('%s', (_name, limit, sessions, expected) => {
    expect(evictionVictims([...sessions], limit, own, 1_000).map((v) => v.key)).toEqual(expected);
  });
});

describe('authAgeOf: whole seconds since the last login', () => {
  it.each<[number | undefined, number, number | undefined]>([
    [undefined, 1_000, undefined],
    [1_000, 1_000, 0],
    [1_000, 1_999, 0],
    [1_000, 2_000, 1],
    [1_000, 61_500, 60],
    [5_000, 1_000, 0], // another node's clock ahead: never negative
  ])('logged in at %p, now %p: %p', (at, now, expected) => {
    expect(authAgeOf(at, now)).toBe(expected);
  });
});

describe('assertFreshAuth: step-up authentication decides on the loaded session alone', () => {
  const session = (principal: string | undefined, age: number | undefined) => ({ principal, authAge: () => age });
  it.each<[string, ReturnType<typeof session>, number, string | undefined]>([
    ['logged in just now', session('ada', 0), 1, undefined],
    ['exactly at the limit', session('ada', 300), 300, undefined],
    ['a second over the limit', session('ada', 301), 300, 'This action needs a login within the last 300 s; the last one was 301 s ago. Ask for the credentials again and call session.login(userId), then retry.'],
    ['a principal set without a login', session('ada', undefined), 300, "This action needs a login within the last 300 s; this session's user was set without session.login(userId). Log in, then retry."],
    ['no user at all', session(undefined, undefined), 300, 'This action needs a logged-in user (a login within the last 300 s); the session has none. Log in, then retry.'],
    ['limit 0: only the login request itself', session('ada', 0), 0, undefined],
  ])('%s', (_name, loaded, limit, message) => {
    if (message === undefined) {
      expect(() => assertFreshAuth(loaded, limit)).not.toThrow();
      return;
    }
    let thrown: unknown;
    try {
      assertFreshAuth(loaded, limit);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SessionReauthenticationRequiredError);
    expect(thrown).toMatchObject({ status: 401, expose: true, message, maxAgeSeconds: limit, headers: { 'Cache-Control': 'no-store' } });
  });

  it.each([-1, Number.NaN, Infinity, '300', undefined])('requireFreshAuth(%p) is refused when the route is set up', (bad) => {
    expect(() => checkFreshAuthLimit(bad, 'requireFreshAuth')).toThrow(SessionConfigError);
    expect(() => checkFreshAuthLimit(bad, 'requireFreshAuth')).toThrow(/requireFreshAuth\(maxAgeSeconds\) needs a number of seconds of 0 or more/);
  });
});

describe('clientInfoOf: what recordClientInfo stores', () => {
  it('keeps the first 256 characters of the User-Agent, never half a surrogate pair', () => {
    const agent = `${'a'.repeat(255)}😀tail`;
    expect(clientInfoOf(agent, '192.0.2.1')).toEqual({ userAgent: `${'a'.repeat(255)}😀`, ip: '192.0.2.1' });
    expect(Array.from(clientInfoOf('x'.repeat(1000), undefined).userAgent!)).toHaveLength(MAX_USER_AGENT_CHARS);
  });
  it('stores nothing it was not given', () => {
    expect(clientInfoOf(undefined, undefined)).toEqual({});
    expect(clientInfoOf('', '')).toEqual({});
    expect(clientInfoOf(['first', 'second'], '::1')).toEqual({ userAgent: 'first', ip: '::1' });
  });
});
