import type { FastifyPluginAsync } from 'fastify';
import { LinesightError } from '../../errors.js';
import type { StationStatus } from '../../pipeline/station.js';
import { parsePartId } from '../../capture/trigger.js';
import { errorBody } from '../schemas.js';

export interface StationsView {
  list(): StationStatus[];
  /** Fires an HTTP trigger on a station; throws LS_ERR_STATION_NOT_FOUND, LS_ERR_TRIGGER, or LS_ERR_NOT_READY (503) while starting or stopping. */
  trigger(id: string, partId: string | undefined): { partId: string; seq: number };
}


export const stationRoutes: FastifyPluginAsync<{ stations: StationsView }> = async (app, { stations }) => {
  app.get('/stations', { schema: { summary: 'Each station: model version, counts by verdict, source health.', response: { 401: errorBody } } as object }, async () => ({
    stations: stations.list(),
  }));

  app.get<{ Params: { id: string } }>('/stations/:id', {
    schema: { summary: 'One station.', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: { 401: errorBody, 404: errorBody } } as object,
  }, async (req) => {
    const s = stations.list().find((x) => x.id === req.params.id);
    if (!s) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [req.params.id] });
    return s;
  });

  app.post<{ Params: { id: string }; Body: { partId?: string } | null }>('/stations/:id/trigger', {
    schema: {
      summary: 'A part is at the camera (HTTP trigger): it gets exactly one verdict. Needs the bearer token.',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      body: { type: ['object', 'null'], properties: { partId: { type: ['string', 'number'] } }, additionalProperties: false },
      response: {
        202: { type: 'object', properties: { camera: { type: 'string' }, partId: { type: 'string' }, seq: { type: 'integer' } } },
        400: errorBody,
        401: errorBody,
        404: errorBody,
        413: errorBody,
        503: errorBody,
      },
    } as object,
  }, async (req, reply) => {
    const parsed = parsePartId(req.body?.partId);
    if (parsed.problem) throw new LinesightError('LS_ERR_TRIGGER', parsed.problem, { args: ['http'] });
    const r = stations.trigger(req.params.id, parsed.partId);
    return reply.status(202).send({ camera: req.params.id, ...r });
  });
};
