// Model versions over HTTP: list, upload (one tar/tar.gz archive), activate on a station, roll
// back. Every mutating route needs the bearer token; every refusal says why, and the version
// already serving keeps serving.
import type { FastifyPluginAsync } from 'fastify';
import type { ActivationReport } from '../../models/manager.js';
import { requireToken } from '../auth.js';
import { errorBody } from '../schemas.js';

export interface ModelsView {
  maxUploadBytes: number;
  list(): Promise<unknown>;
  upload(archive: Buffer): Promise<{ name: string; version: string; activations: ActivationReport[] }>;
  activate(station: string, ref: string): Promise<ActivationReport>;
  rollback(station: string): Promise<ActivationReport>;
}

const report = {
  type: 'object',
  properties: {
    station: { type: 'string' },
    from: { type: ['string', 'null'] },
    to: { type: 'string' },
    provider: { type: 'string' },
    golden: { type: 'integer' },
    reason: { type: 'string' },
  },
} as const;
const stationParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const refusals = { 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody, 413: errorBody, 422: errorBody } as const;

export const modelRoutes: FastifyPluginAsync<{ models: ModelsView; token: string | undefined }> = async (app, { models, token }) => {
  const auth = requireToken(token);
  // Archives arrive as raw bytes; the archive reader checks what they are.
  for (const type of ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: models.maxUploadBytes }, (_req, body, done) => done(null, body));
  }

  app.get('/models', { schema: { summary: 'Model versions on disk and the stations serving each.' } as object }, async () => ({ models: await models.list() }));

  app.post('/models', {
    preHandler: auth,
    bodyLimit: models.maxUploadBytes,
    schema: {
      summary: 'Upload a model version as a tar or tar.gz of its directory (manifest.json, model file, golden samples). Checked like any version; stations serving an older version of that model switch to it.',
      response: { 201: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, activations: { type: 'array', items: report } } }, ...refusals },
    } as object,
  }, async (req, reply) => {
    if (!Buffer.isBuffer(req.body)) return reply.status(415).send({ error: 'LS_ERR_MODEL_ARCHIVE', message: 'send the archive as application/gzip or application/x-tar' });
    return reply.status(201).send(await models.upload(req.body));
  });

  app.post<{ Params: { id: string }; Body: { model: string } }>('/stations/:id/model', {
    preHandler: auth,
    schema: {
      summary: 'Activate a model version (name@version) on a station: loaded and checked beside the serving one, then switched for new parts.',
      params: stationParams,
      body: { type: 'object', properties: { model: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9_.+-]*$' } }, required: ['model'], additionalProperties: false },
      response: { 200: report, ...refusals },
    } as object,
  }, async (req) => models.activate(req.params.id, req.body.model));

  app.post<{ Params: { id: string } }>('/stations/:id/model/rollback', {
    preHandler: auth,
    schema: { summary: 'Go back to the version the station served before.', params: stationParams, response: { 200: report, ...refusals } } as object,
  }, async (req) => models.rollback(req.params.id));
};
