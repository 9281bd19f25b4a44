import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { errorBody } from '../schemas.js';

export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics (text exposition format).', response: { 401: errorBody } } }, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
};
