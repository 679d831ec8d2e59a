import { expect } from '@jest/globals';
import type { Server } from 'node:http';
import request from 'supertest';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { SessionKeyError, SessionSerializationError, SessionStoreUnavailableError } from '../../lib';
import { SessionHttpException } from '../../lib/nest';
import { storeBehindProxy, StoreBehindProxy } from '../support/fault-proxy';
import { nestApp, Platform, SessionModule } from '../support/nest-app';
import { SECRET } from '../support/secrets';

type Level = 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';

/** Nest's logger for the app, as an ops team would see it. */
class CapturingLogger implements LoggerService {
  readonly entries: Array<{ level: Level; args: unknown[] }> = [];
  log(...args: unknown[]): void { this.entries.push({ level: 'log', args }); }
  error(...args: unknown[]): void { this.entries.push({ level: 'error', args }); }
  warn(...args: unknown[]): void { this.entries.push({ level: 'warn', args }); }
  debug(...args: unknown[]): void { this.entries.push({ level: 'debug', args }); }
  verbose(...args: unknown[]): void { this.entries.push({ level: 'verbose', args }); }
  fatal(...args: unknown[]): void { this.entries.push({ level: 'fatal', args }); }
  severe(): Array<{ level: Level; args: unknown[] }> {
    return this.entries.filter((e) => e.level === 'error' || e.level === 'fatal');
  }
}

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe.each<Platform>(['express', 'fastify'])('Nest on %s: what a session error logs', (platform) => {
  let behind: StoreBehindProxy;
  let app: INestApplication<Server>;
  const logger = new CapturingLogger();
  const seen: unknown[] = [];

  beforeAll(async () => {
    behind = await storeBehindProxy();
    // No logger in the session options: the module logs through Nest's, like an app that configures nothing.
    app = await nestApp(platform, SessionModule.forRoot({ store: behind.store, secrets: [SECRET] }), { logger, onError: (e) => seen.push(e) });
  });
  afterAll(async () => {
    await app.close();
    await behind.close();
  });
  beforeEach(() => {
    logger.entries.length = 0;
    seen.length = 0;
    behind.proxy.set({});
  });

  it.each([
    { name: 'a session value nested deeper than 64 levels', path: '/json/deep', json: nested(70), status: 413, type: SessionSerializationError, message: /nested more than 64 levels/ },
    { name: 'an attribute named constructor', path: '/set/constructor/x', json: undefined, status: 400, type: SessionKeyError, message: /may not be named "constructor"/ },
  ].map((c) => [c.name, c] as const))('%s: answered with its 4xx, the typed error in a SessionHttpException, nothing logged as an error', async (_, c) => {
    const res = await request(app.getHttpServer()).post(c.path).set(c.json === undefined ? {} : { 'X-Json': c.json }).expect(c.status);
    expect(res.body).toEqual({ statusCode: c.status, message: expect.stringMatching(c.message) });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(seen).toEqual([expect.any(SessionHttpException)]);
    expect((seen[0] as SessionHttpException).sessionError).toBeInstanceOf(c.type);
    expect(logger.severe()).toEqual([]);
  });

  it('a store failure (503) is still logged as an error, with the typed error', async () => {
    behind.proxy.set({ throttle: 1, operations: ['UpdateItem'] });
    const res = await request(app.getHttpServer()).post('/set/a/1').expect(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(seen).toEqual([expect.any(SessionStoreUnavailableError)]);
    expect(logger.severe().some((e) => e.args.some((a) => a instanceof SessionStoreUnavailableError))).toBe(true);
  });

  it('a store failure in a response hook (a guard ended the request) is logged too', async () => {
    behind.proxy.set({ throttle: 1, operations: ['UpdateItem'] });
    await request(app.getHttpServer()).get('/guarded').expect(503);
    expect(logger.severe().some((e) => e.args.some((a) => a instanceof SessionStoreUnavailableError))).toBe(true);
  });
});
