// Liveness and readiness. /healthz: the process answers. /readyz: every station has a
// warmed-up model and a running source, so a load balancer or supervisor may rely on it.
import type { FastifyPluginAsync } from 'fastify';
import type { Readiness } from '../../health.js';

const check = {
  type: 'object',
  properties: { ready: { type: 'boolean' }, detail: { type: 'string' } },
} as const;

export const healthRoutes: FastifyPluginAsync<{ readiness: Readiness; version: string }> = async (app, { readiness, version }) => {
  const started = Date.now();
  app.get('/healthz', {
    config: { public: true },
    schema: {
      summary: 'Liveness: the process is up and its event loop answers.',
      response: { 200: { type: 'object', properties: { status: { const: 'ok' }, version: { type: 'string' }, uptimeS: { type: 'number' } } } },
    },
  }, async () => ({ status: 'ok' as const, version, uptimeS: Math.round((Date.now() - started) / 1000) }));

  app.get('/readyz', {
    config: { public: true },
    schema: {
      summary: 'Readiness: 200 when every station serves a warmed-up model, 503 with the reasons otherwise.',
      response: {
        200: { type: 'object', properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: check } } },
        503: { type: 'object', properties: { ready: { type: 'boolean' }, checks: { type: 'object', additionalProperties: check } } },
      },
    },
  }, async (_req, reply) => {
    const report = readiness.report();
    return reply.status(report.ready ? 200 : 503).send(report);
  });
};
