import type { Server } from 'node:http';
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { createKoaSample } from '../../sample-app/koa/app';
import { createNestSample } from '../../sample-app/nest/create-app';
import { dropTable, storeOnNewTable } from '../support/dynamodb';
import { SECRET } from '../support/secrets';
import { bodyOf } from '../support/response-body';
import { ageLogins } from './age-logins';

type Variant = 'koa' | 'nest-express' | 'nest-fastify';
type Agent = ReturnType<typeof request.agent>;

interface Device {
  handle: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
}

/** Both samples offer the same account features; only Nest's POST answers 201 where Koa's answer 200. */
describe.each<Variant>(['koa', 'nest-express', 'nest-fastify'])('the %s sample: your devices, and a change of e-mail that needs a recent login', (variant) => {
  let tableName: string;
  let server: Parameters<typeof request.agent>[0];
  let close: () => Promise<unknown> = () => Promise.resolve();
  const posted = variant === 'koa' ? 200 : 201;

  beforeAll(async () => {
    const created = await storeOnNewTable();
    tableName = created.tableName;
    if (variant === 'koa') {
      server = createKoaSample(created.store, [SECRET]).callback();
    } else {
      const app: INestApplication<Server> = await createNestSample(created.store, [SECRET], variant === 'nest-express' ? 'express' : 'fastify');
      if (variant === 'nest-fastify') await (app.getHttpAdapter().getInstance() as { ready(): Promise<unknown> }).ready();
      server = app.getHttpServer();
      close = () => app.close();
    }
  });
  afterAll(async () => {
    await close();
    await dropTable(tableName);
  });

  /** A browser of its own (cookie jar and User-Agent), logged in as `name`. */
  async function device(userAgent: string, name?: string): Promise<Agent> {
    const agent = request.agent(server).set('User-Agent', userAgent);
    if (name !== undefined) await agent.post('/api/login').send({ name }).expect(posted);
    return agent;
  }
  const userOf = async (agent: Agent): Promise<unknown> => bodyOf(await agent.get('/api/me').expect(200))['user'] ?? null;
  const devicesOf = async (agent: Agent): Promise<Device[]> => bodyOf(await agent.get('/api/devices').expect(200))['devices'] as Device[];

  it('lists the user\'s other sessions with their browser, and signs one out: its next request finds no session', async () => {
    const before = Date.now();
    const laptop = await device('Laptop Browser/1.0', 'Ada');
    const phone = await device('Phone Browser/2.0', 'Ada');
    const grace = await device('Grace Browser/3.0', 'Grace');

    const listed = await devicesOf(laptop);
    // Only Ada's other session: not the laptop itself, never Grace's.
    expect(listed).toEqual([{ handle: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as string, userAgent: 'Phone Browser/2.0', ip: expect.stringContaining('127.0.0.1') as string, createdAt: expect.any(Number) as number, lastSeenAt: expect.any(Number) as number }]);
    expect(listed[0]!.lastSeenAt).toBeGreaterThanOrEqual(before);
    expect((await devicesOf(phone)).map((d) => d.userAgent)).toEqual(['Laptop Browser/1.0']);
    expect(await devicesOf(grace)).toEqual([]);

    await laptop.post('/api/devices/sign-out').send({ handle: listed[0]!.handle }).expect(posted);
    expect(await userOf(phone)).toBeNull();
    expect(await userOf(laptop)).toEqual({ name: 'Ada' });
    expect(await userOf(grace)).toEqual({ name: 'Grace' });
    expect(await devicesOf(laptop)).toEqual([]);
    // Signed out already: 404, and nothing else changes.
    await laptop.post('/api/devices/sign-out').send({ handle: listed[0]!.handle }).expect(404);
    expect(await userOf(laptop)).toEqual({ name: 'Ada' });
  });

  it('never signs out another user\'s session, whatever handle it is sent', async () => {
    const ada = await device('Ada Browser/1.0', 'Ada-2');
    const graceLaptop = await device('Grace Laptop/1.0', 'Grace-2');
    const gracePhone = await device('Grace Phone/1.0', 'Grace-2');
    const [graceHandle] = (await devicesOf(graceLaptop)).map((d) => d.handle);
    expect(graceHandle).toBeDefined();

    await ada.post('/api/devices/sign-out').send({ handle: graceHandle }).expect(404);
    await ada.post('/api/devices/sign-out').send({ handle: 'A'.repeat(43) }).expect(404);
    await ada.post('/api/devices/sign-out').send({ handle: '<b>not a handle</b>' }).expect(400);
    await ada.post('/api/devices/sign-out').send({}).expect(400);
    expect(await userOf(gracePhone)).toEqual({ name: 'Grace-2' });
    expect(await userOf(ada)).toEqual({ name: 'Ada-2' });
    // Nobody logged in: nothing listed, nothing to sign out.
    const anonymous = await device('Anonymous/1.0');
    expect(await devicesOf(anonymous)).toEqual([]);
    await anonymous.post('/api/devices/sign-out').send({ handle: graceHandle }).expect(404);
    expect(await userOf(gracePhone)).toEqual({ name: 'Grace-2' });
  });

  it('"sign out other devices" ends every other session of the user, and keeps this one', async () => {
    const [laptop, phone, tablet] = [await device('Laptop/1.0', 'Lin'), await device('Phone/1.0', 'Lin'), await device('Tablet/1.0', 'Lin')];
    const other = await device('Other/1.0', 'Someone else');
    expect((await devicesOf(laptop)).map((d) => d.userAgent).sort()).toEqual(['Phone/1.0', 'Tablet/1.0']);

    await laptop.post('/api/devices/sign-out-others').expect(posted);
    expect(await userOf(phone)).toBeNull();
    expect(await userOf(tablet)).toBeNull();
    expect(await userOf(laptop)).toEqual({ name: 'Lin' });
    expect(await userOf(other)).toEqual({ name: 'Someone else' });
    expect(await devicesOf(laptop)).toEqual([]);
  });

  it('changes the e-mail within 5 minutes of a login; later only after the name again (session.login once more)', async () => {
    const laptop = await device('Laptop/1.0', 'Mae');
    expect(bodyOf(await laptop.post('/api/email').send({ email: 'mae@example.com' }).expect(posted))).toEqual({ email: 'mae@example.com' });
    expect(bodyOf(await laptop.get('/api/me'))['email']).toBe('mae@example.com');
    await laptop.post('/api/email').send({ email: 'not an address' }).expect(400);

    // 4 minutes 50 seconds after the login: still fresh.
    expect(await ageLogins(tableName, 'Mae', 290)).toBe(1);
    await laptop.post('/api/email').send({ email: 'mae@example.org' }).expect(posted);
    // Past 5 minutes: 401 before the handler, and the e-mail stays.
    expect(await ageLogins(tableName, 'Mae', 20)).toBe(1);
    const refused = await laptop.post('/api/email').send({ email: 'mae@example.net' }).expect(401);
    expect(refused.text).toMatch(/login within the last 300 s/);
    expect(bodyOf(await laptop.get('/api/me'))['email']).toBe('mae@example.org');

    // The name again: another user's name is no proof, the user's own is.
    await laptop.post('/api/reauth').send({ name: 'Ada' }).expect(401);
    await laptop.post('/api/email').send({ email: 'mae@example.net' }).expect(401);
    expect(bodyOf(await laptop.post('/api/reauth').send({ name: 'Mae' }).expect(posted))).toEqual({ user: { name: 'Mae' } });
    await laptop.post('/api/email').send({ email: 'mae@example.net' }).expect(posted);
    expect(bodyOf(await laptop.get('/api/me'))).toMatchObject({ user: { name: 'Mae' }, email: 'mae@example.net' });
    // Logging in again as Mae keeps it; as someone else in the same browser, it goes: it was Mae's.
    await laptop.post('/api/login').send({ name: 'Mae' }).expect(posted);
    expect(bodyOf(await laptop.get('/api/me'))['email']).toBe('mae@example.net');
    await laptop.post('/api/login').send({ name: 'Someone else' }).expect(posted);
    expect(bodyOf(await laptop.get('/api/me'))['email'] ?? null).toBeNull();
  });

  it('refuses the e-mail change (401) and the name check without a login', async () => {
    const anonymous = await device('Anonymous/1.0');
    await anonymous.post('/api/email').send({ email: 'someone@example.com' }).expect(401);
    await anonymous.post('/api/reauth').send({ name: 'Mae' }).expect(401);
    expect(await userOf(anonymous)).toBeNull();
  });
});
