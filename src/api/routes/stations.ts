import type { FastifyPluginAsync } from 'fastify';
import type { StationStatus } from '../../inference/station.js';

export interface StationsView {
  list(): StationStatus[];
}

export const stationRoutes: FastifyPluginAsync<{ stations: StationsView }> = async (app, { stations }) => {
  app.get('/stations', { schema: { summary: 'Each station: model version, counts by verdict, source health.' } }, async () => ({
    stations: stations.list(),
  }));
  app.get<{ Params: { id: string } }>('/stations/:id', {
    schema: { summary: 'One station.', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
  }, async (req, reply) => {
    const s = stations.list().find((x) => x.id === req.params.id);
    if (!s) return reply.status(404).send({ error: 'LS_ERR_STATION_NOT_FOUND', message: `no station ${req.params.id}` });
    return s;
  });
};
