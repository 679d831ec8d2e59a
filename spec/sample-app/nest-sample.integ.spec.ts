import type { Server } from 'node:http';
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { createNestSample } from '../../sample-app/nest/create-app';
import { dropTable, storeOnNewTable } from '../support/dynamodb';
import { SECRET } from '../support/secrets';
import { bodyOf } from '../support/response-body';

describe('Nest sample app: sign out everywhere', () => {
  let app: INestApplication<Server>;
  let tableName: string;
  beforeAll(async () => {
    const created = await storeOnNewTable();
    tableName = created.tableName;
    app = await createNestSample(created.store, [SECRET]);
  });
  afterAll(async () => {
    await app.close();
    await dropTable(tableName);
  });

  it('ends the user\'s sessions on every device, and no one else\'s', async () => {
    const laptop = request.agent(app.getHttpServer());
    const phone = request.agent(app.getHttpServer());
    const someoneElse = request.agent(app.getHttpServer());
    await laptop.post('/api/login').send({ name: 'Ada' }).expect(201);
    await phone.post('/api/login').send({ name: 'Ada' }).expect(201);
    await someoneElse.post('/api/login').send({ name: 'Grace' }).expect(201);
    expect(bodyOf(await phone.get('/api/me'))['user']).toEqual({ name: 'Ada' });

    const res = await laptop.post('/api/logout-everywhere').expect(201);
    expect(res.body).toEqual({ signedOut: 2 });
    expect(bodyOf(await phone.get('/api/me'))['user']).toBeUndefined();
    expect(bodyOf(await laptop.get('/api/me'))['user']).toBeUndefined();
    expect(bodyOf(await someoneElse.get('/api/me'))['user']).toEqual({ name: 'Grace' });
  });
});
