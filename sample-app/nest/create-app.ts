import 'reflect-metadata';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { SessionStore } from 'dynamo-session';
import { CALLS_HEADER, withDynamoDbCallLog } from '../dynamodb-calls';
import { AppModule } from './app.module';

export async function createNestSample(store: SessionStore, secrets: string[], platform: 'express' | 'fastify' = 'express'): Promise<INestApplication<Server>> {
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(AppModule.withStore(store, secrets), adapter, { logger: ['error', 'warn'] });
  // Demo aid (sample-app/dynamodb-calls.ts) for the page's "DynamoDB calls" panel. Added before init(), so it runs
  // ahead of Nest's body parser and the session middleware, on Express and on Fastify alike.
  app.use((req: IncomingMessage, _res: ServerResponse, next: () => void) => withDynamoDbCallLog(req.headers[CALLS_HEADER], next));
  await app.init();
  return app;
}
