// The HTTP API: a thin fastify instance; each resource is a plugin in routes/.
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Registry } from 'prom-client';
import type { Readiness } from '../health.js';
import type { Logger } from '../log.js';
import { isLinesightError } from '../errors.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { stationRoutes, type StationsView } from './routes/stations.js';
import { modelRoutes, type ModelsView } from './routes/models.js';
import { liveRoutes, type LiveView } from './routes/live.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { outboxRoutes, type OutboxView } from './routes/outbox.js';
import { evidenceRoutes, type EvidenceView } from './routes/evidence.js';
import { shadowRoutes, type ShadowView } from './routes/shadow.js';
import { verdictRoutes } from './routes/verdicts.js';
import { VerdictLog } from './verdict-log.js';
import { accessControl } from './auth.js';
import type { LiveClients } from './live-clients.js';
import type { UploadSlots } from './uploads.js';

export interface ApiDeps {
  token: string | undefined;
  /** Require the token on read routes too (all but /healthz and /readyz). */
  protectReads: boolean;
  models: ModelsView;
  /** Shadow trials (issue 14). */
  shadow?: ShadowView;
  uploads: UploadSlots;
  live: LiveView;
  liveClients: LiveClients;
  readiness: Readiness;
  metrics: Registry;
  stations: StationsView;
  /** The cloud outbox and its quarantine (issue 10). */
  outbox?: OutboxView;
  log: Logger;
  version: string;
  /** Kept evidence (evidence.enabled); absent: GET /evidence answers enabled: false. */
  evidence?: EvidenceView | undefined;
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  // Requests are not logged one by one (fastify logs them at info); errors still are.
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    // An unknown field in a request is an error to report, not something to drop silently.
    ajv: { customOptions: { removeAdditional: false, allErrors: true, allowUnionTypes: true } },
    // Long-lived dashboard streams must not hold shutdown.
    forceCloseConnections: true,
  });
  // OpenAPI is generated from the route schemas, never written by hand.
  app.register(swagger, {
    openapi: { info: { title: 'Linesight', description: 'Edge inspection service API', version: deps.version } },
  });
  // Who may call what, decided before any body is read (auth.ts).
  app.addHook('onRequest', accessControl({ token: deps.token, protectReads: deps.protectReads }));
  // A refusal sent before the body was read (401, 413, 415, 429, ...) closes the connection:
  // otherwise node would read, and throw away, the rest of a body that may be gigabytes.
  app.addHook('onSend', async (req, reply) => {
    if (reply.statusCode >= 400 && !req.raw.complete) reply.header('connection', 'close');
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (isLinesightError(err)) return reply.status(err.status).send({ error: err.code, message: err.message });
    const status = err.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err }, 'API request failed');
    return reply.status(status).send({ error: err.code ?? 'LS_ERR_HTTP', message: err.message });
  });
  app.register(healthRoutes, { readiness: deps.readiness, version: deps.version });
  app.register(metricsRoutes, { registry: deps.metrics });
  app.register(stationRoutes, { stations: deps.stations });
  app.register(modelRoutes, { models: deps.models, uploads: deps.uploads });
  if (deps.shadow) app.register(shadowRoutes, { shadow: deps.shadow });
  const verdictLog = new VerdictLog({ passes: 2000, others: 20_000 });
  verdictLog.start(deps.live.bus);
  app.addHook('onClose', async () => verdictLog.stop());
  app.register(verdictRoutes, { log: verdictLog });
  app.register(liveRoutes, { live: deps.live, clients: deps.liveClients });
  app.register(evidenceRoutes, { evidence: deps.evidence });
  app.register(dashboardRoutes);
  if (deps.outbox) app.register(outboxRoutes, { view: deps.outbox });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app as unknown as FastifyInstance;
}
