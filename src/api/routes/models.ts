// Model versions over HTTP: list, upload (one tar/tar.gz archive), activate on a station, roll
// back. Every mutating route needs the bearer token; every refusal says why, and the version
// already serving keeps serving.
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { LinesightError } from '../../errors.js';
import type { ActivationReport } from '../../models/manager.js';
import { errorBody } from '../schemas.js';
import { receiveToFile, tooLarge, type UploadSlots } from '../uploads.js';

export interface ModelsView {
  maxUploadBytes: number;
  /** Where uploads are received before installing: the models directory, so the archive and what it unpacks to share one filesystem. */
  stagingDir: string;
  list(): Promise<unknown>;
  /** Installs the archive received into `file` (which the route deletes afterwards). */
  upload(file: string): Promise<{ name: string; version: string; activations: ActivationReport[] }>;
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
const refusals = { 400: errorBody, 401: errorBody, 404: errorBody, 409: errorBody, 422: errorBody } as const;
const archiveTypes = ['application/gzip', 'application/x-gzip', 'application/x-tar', 'application/octet-stream'];

export const modelRoutes: FastifyPluginAsync<{ models: ModelsView; uploads: UploadSlots }> = async (app, { models, uploads }) => {
  app.get('/models', { schema: { summary: 'Model versions on disk and the stations serving each.', response: { 401: errorBody } } as object }, async () => ({ models: await models.list() }));

  // The upload in a scope of its own, so only it takes archive bodies, and it takes them as the
  // raw request stream (no parseAs): the handler counts the bytes into a staging file.
  app.register(async (scope) => {
    scope.addContentTypeParser(archiveTypes, (_req, body, done) => done(null, body));
    const releases = new WeakMap<FastifyRequest, () => void>();

    scope.post('/models', {
      // Everything that can refuse an upload without reading it runs here, before the body
      // (the token check ran before this, in the server's onRequest).
      onRequest: async (req, reply) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (!archiveTypes.includes(type)) {
          throw new LinesightError('LS_ERR_UPLOAD_TYPE', `send the archive as ${archiveTypes.slice(0, 3).join(', ')} or application/octet-stream`, { args: [JSON.stringify(type)] });
        }
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > models.maxUploadBytes) throw tooLarge(models.maxUploadBytes, `Content-Length is ${declared} bytes`);
        const release = uploads.acquire();
        releases.set(req, release);
        // Whatever ends the exchange (answer sent, client gone) frees the slot; the handler
        // also frees it when it is done.
        reply.raw.once('close', release);
      },
      schema: {
        summary: 'Upload a model version as a tar or tar.gz of its directory (manifest.json, model file, golden samples). Checked like any version; stations serving an older version of that model switch to it.',
        description: `Content-Type: ${archiveTypes.join(', ')}. At most models.maxUploadMB (413 as soon as the body passes it), at most models.maxConcurrentUploads at once (429).`,
        response: {
          201: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, activations: { type: 'array', items: report } } },
          ...refusals,
          413: errorBody,
          415: errorBody,
          429: errorBody,
        },
      } as object,
    }, async (req, reply) => {
      const file = join(models.stagingDir, `.upload-${randomUUID()}.tar`);
      let installed: Awaited<ReturnType<ModelsView['upload']>>;
      try {
        await receiveToFile(req.body as Readable, file, models.maxUploadBytes);
        installed = await models.upload(file);
      } finally {
        // Before the answer, so a client that sees it never sees the staging file.
        await rm(file, { force: true });
        releases.get(req)?.();
      }
      return reply.status(201).send(installed);
    });
  });

  app.post<{ Params: { id: string }; Body: { model: string } }>('/stations/:id/model', {
    schema: {
      summary: 'Activate a model version (name@version) on a station: loaded and checked beside the serving one, then switched for new parts.',
      params: stationParams,
      body: { type: 'object', properties: { model: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9_.+-]*$' } }, required: ['model'], additionalProperties: false },
      response: { 200: report, ...refusals },
    } as object,
  }, async (req) => models.activate(req.params.id, req.body.model));

  app.post<{ Params: { id: string } }>('/stations/:id/model/rollback', {
    schema: { summary: 'Go back to the version the station served before.', params: stationParams, response: { 200: report, ...refusals } } as object,
  }, async (req) => models.rollback(req.params.id));
};
