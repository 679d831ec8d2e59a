import 'reflect-metadata';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { SessionStore } from 'dynamo-session';
import { AppModule } from './app.module';

export async function createNestSample(store: SessionStore, secrets: string[], platform: 'express' | 'fastify' = 'express'): Promise<INestApplication<Server>> {
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(AppModule.withStore(store, secrets), adapter, { logger: ['error', 'warn'] });
  await app.init();
  return app;
}
