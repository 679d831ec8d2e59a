import { resolveSessionOptions } from '../../lib/core/validate-options';
import { MemoryStore, SessionConfigError, SessionOptions } from '../../lib';
import { SECRET } from '../support/secrets';

function problemsOf(options: unknown): readonly string[] {
  try {
    resolveSessionOptions(options as SessionOptions);
  } catch (e) {
    expect(e).toBeInstanceOf(SessionConfigError);
    return (e as SessionConfigError).problems;
  }
  throw new Error('expected a SessionConfigError');
}

describe('resolveSessionOptions', () => {
  it('reports every invalid option in one SessionConfigError', () => {
    const problems = problemsOf({
      secrets: [],
      maxInactiveInterval: -1,
      ignoreUris: ['/ok', 42, '(unclosed'],
      cookie: { sameSite: 'none', secure: false },
      onStoreError: 'explode',
    });
    expect(problems).toEqual([
      expect.stringContaining('secrets is required'),
      expect.stringContaining(`sameSite 'none' requires cookie.secure: true`),
      expect.stringMatching(/maxInactiveInterval must be a positive whole number, got number -1 .*OWASP/),
      expect.stringContaining('ignoreUris[1] must be a string or a RegExp'),
      expect.stringContaining('ignoreUris[2]: "(unclosed" is not a valid regular expression'),
      expect.stringContaining(`onStoreError must be 'fail' or 'continue-without-session'`),
    ]);
  });

  it('puts every problem in the error message', () => {
    expect(() => resolveSessionOptions({ secrets: 'short', touchAfter: -5 })).toThrow(
      /\(2 problems\):\n {2}- secrets\[0\] is 5 bytes.*\n {2}- touchAfter must be/,
    );
  });

  it('account controls: maxSessionsPerPrincipal is a positive whole number, recordClientInfo a boolean; both resolved once', () => {
    expect(problemsOf({ secrets: [SECRET], store: new MemoryStore(), maxSessionsPerPrincipal: 0, recordClientInfo: 'yes' })).toEqual([
      'maxSessionsPerPrincipal must be a positive whole number, got number 0',
      'recordClientInfo must be a boolean',
    ]);
    expect(problemsOf({ secrets: [SECRET], store: new MemoryStore(), maxSessionsPerPrincipal: 2.5 })).toEqual(['maxSessionsPerPrincipal must be a positive whole number, got number 2.5']);
    const input = { secrets: [SECRET], store: new MemoryStore(), maxSessionsPerPrincipal: 3 };
    const resolved = resolveSessionOptions(input);
    expect([resolved.maxSessionsPerPrincipal, resolved.recordClientInfo]).toEqual([3, false]);
    expect(resolveSessionOptions({ secrets: [SECRET], store: new MemoryStore() }).maxSessionsPerPrincipal).toBeUndefined();
  });

  it('names unknown options and suggests the right one', () => {
    expect(problemsOf({ secrets: SECRET, maxAge: 1000, secret: 'x' })).toEqual([
      'unknown option "maxAge" (did you mean cookie.maxAge?)',
      'unknown option "secret" (did you mean secrets?)',
    ]);
  });

  it.each([
    [{ cookie: { name: '__Host-sid', secure: true, domain: 'example.com' } }, '"__Host-" cookie needs'],
    [{ cookie: { name: '__Host-sid', secure: true, path: '/app' } }, '"__Host-" cookie needs'],
    [{ cookie: { name: '__Secure-sid', secure: 'auto' } }, '"__Secure-" cookie needs secure: true'],
    [{ cookie: { name: 'bad name' } }, 'cookie.name must be a cookie name token'],
    [{ cookie: { path: 'relative' } }, 'cookie.path must start with "/"'],
    [{ cookie: { maxAge: 1.5 } }, 'cookie.maxAge must be a positive whole number'],
    [{ idHeader: 'x session' }, 'idHeader must be a header name'],
    [{ touchAfter: 1800 }, 'touchAfter (1800) must be less than maxInactiveInterval (1800)'],
    [{ store: {} }, 'store must be a SessionStore'],
    [{ logger: { info() {} } }, 'logger must have debug, info, warn and error methods (missing: debug, warn, error)'],
    [{ ignoreHeaders: {} }, 'ignoreHeaders must be a string or a RegExp, got an object'],
  ])('refuses %j', (extra, message) => {
    expect(problemsOf({ secrets: SECRET, ...extra }).join('\n')).toContain(message);
  });

  it('requires a store outside test and development', () => {
    const env = process.env['NODE_ENV'];
    process.env['NODE_ENV'] = 'production';
    try {
      expect(problemsOf({ secrets: SECRET })[0]).toMatch(/store is required .*\(it is 'production'\)/);
    } finally {
      process.env['NODE_ENV'] = env;
    }
  });

  it('defaults to a MemoryStore under NODE_ENV=test, and to the documented values', () => {
    const resolved = resolveSessionOptions({ secrets: SECRET });
    expect(resolved.store).toBeInstanceOf(MemoryStore);
    expect(resolved).toMatchObject({
      maxInactiveInterval: 1800,
      touchAfter: 60,
      compressThreshold: 4096,
      onStoreError: 'fail',
      cookie: { name: 'sid', httpOnly: true, secure: 'auto', sameSite: 'lax', path: '/' },
    });
  });

  it('never changes the caller object, and freezes what it returns', () => {
    const input = { secrets: [SECRET], ignoreUris: '/a', cookie: { name: 'app' } };
    const snapshot = JSON.stringify(input);
    const resolved = resolveSessionOptions(input);
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolved.secrets).not.toBe(input.secrets);
  });

  it('compiles string patterns as full matches, header patterns case-insensitively, and strips g/y flags', () => {
    const r = resolveSessionOptions({ secrets: SECRET, ignoreUris: ['/static/.*', /^\/api\/ping/g], ignoreHeaders: 'X-Probe' });
    expect(r.ignoreUris[0]!.test('/static/app.js')).toBe(true);
    expect(r.ignoreUris[0]!.test('/x/static/app.js')).toBe(false);
    expect([1, 2, 3].map(() => r.ignoreUris[1]!.test('/api/ping'))).toEqual([true, true, true]);
    expect(r.ignoreHeaders[0]!.test('x-probe')).toBe(true);
    expect(r.ignoreHeaders[0]!.test('x-probes')).toBe(false);
  });
});
