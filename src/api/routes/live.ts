// What the dashboard reads: a Server-Sent Events stream of verdicts and station status, and the
// last inspected (and last rejected) frame of each station as an image.
import type { FastifyPluginAsync } from 'fastify';
import { LinesightError } from '../../errors.js';
import type { EventBus } from '../../events.js';
import type { StationImage, StationStatus } from '../../pipeline/station.js';
import type { LiveClients } from '../live-clients.js';
import { errorBody } from '../schemas.js';

export interface LiveView {
  bus: EventBus;
  stations(): StationStatus[];
  image(station: string, which: 'last' | 'reject'): StationImage | undefined;
  /** The frame of part `seq`, while the station still keeps it. */
  imageOf(station: string, seq: number): StationImage | undefined;
  /** How often the status event is sent (ms). */
  statusIntervalMs?: number;
}

/** ?access_token= for what browsers load without headers (with api.protectReads). */
const accessQuery = { type: 'object', properties: { access_token: { type: 'string', description: 'The api.token, where a browser cannot send a header (api.protectReads).' } } } as const;

/**
 * JSON for a response header: header values are Latin-1 on the wire (and Node refuses other
 * characters), while labels come from model manifests in any script. Escaping every non-ASCII
 * character as \uXXXX keeps the value ASCII and still the same JSON.
 */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function contentType(data: Uint8Array): string {
  if (data[0] === 0x89 && data[1] === 0x50) return 'image/png';
  if (data[0] === 0x52 && data[1] === 0x49) return 'image/webp';
  return 'image/jpeg';
}

export const liveRoutes: FastifyPluginAsync<{ live: LiveView; clients: LiveClients }> = async (app, { live, clients }) => {
  // One subscription and one status timer for all clients; each event is serialised once.
  const offVerdict = live.bus.on('verdict', (v) => clients.broadcast('verdict', v));
  const offShadow = live.bus.on('shadow', (e) => clients.broadcast('shadow', e));
  const offModel = live.bus.on('model-changed', (e) => clients.broadcast('model', e));
  const offRefused = live.bus.on('model-refused', (e) => clients.broadcast('model-refused', e));
  const timer = setInterval(() => clients.broadcast('stations', live.stations()), live.statusIntervalMs ?? 2000);
  timer.unref();
  // Event streams never end by themselves: close them when the server closes, or it never does.
  app.addHook('onClose', async () => {
    offVerdict();
    offShadow();
    offModel();
    offRefused();
    clearInterval(timer);
    clients.closeAll();
  });

  app.get('/events', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'Server-Sent Events: `verdict` for every verdict, `stations` (status of every station) every 2 s, `model` (a station changed version), `model-refused`, `shadow` (shadow trial news).',
      description: 'At most api.events.maxClients at once (503 LS_ERR_SSE_LIMIT beyond); a client more than api.events.maxBufferedKB behind is disconnected.',
      querystring: accessQuery,
      response: { 401: errorBody, 503: errorBody },
    } as object,
  }, (req, reply) => {
    clients.add(reply.raw, `${req.ip}:${req.socket.remotePort ?? ''}`);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    clients.send(res, 'stations', live.stations());
  });

  app.get<{ Params: { id: string }; Querystring: { which?: 'last' | 'reject'; seq?: number } }>('/stations/:id/image', {
    config: { tokenInQuery: true },
    schema: {
      summary: 'The frame of part `seq` (while the station keeps it: the newest 32 parts), else the last inspected frame of a station (which=last) or the last one whose verdict rejected the part (which=reject); its verdict in the X-Linesight-Verdict header.',
      description: 'A page that shows a part\'s verdict asks for its frame by seq, so image and caption are always the same part (which=last may already be a newer one).',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      querystring: {
        type: 'object',
        properties: { which: { type: 'string', enum: ['last', 'reject'] }, seq: { type: 'integer', minimum: 0 }, t: { type: 'string', description: 'Cache buster; ignored.' }, ...accessQuery.properties },
        additionalProperties: false,
      },
      response: { 400: errorBody, 401: errorBody, 404: errorBody },
    } as object,
  }, async (req, reply) => {
    const { id } = req.params;
    if (!live.stations().some((s) => s.id === id)) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [id] });
    const { seq } = req.query;
    const kept = seq !== undefined ? live.imageOf(id, seq) : live.image(id, req.query.which ?? 'last');
    if (!kept && seq !== undefined) throw new LinesightError('LS_ERR_NO_IMAGE_FOR_PART', `station ${id} keeps the frames of its newest parts only`, { args: [String(seq)] });
    if (!kept) throw new LinesightError('LS_ERR_NO_IMAGE', `station ${id} has no ${req.query.which ?? 'last'} image yet`);
    const img = kept.image;
    const body =
      img.kind === 'encoded'
        ? Buffer.from(img.data)
        : await (await import('sharp')).default(img.data, { raw: { width: img.width, height: img.height, channels: img.format === 'gray' ? 1 : 3 } }).jpeg({ quality: 85 }).toBuffer();
    return reply
      .header('content-type', img.kind === 'encoded' ? contentType(img.data) : 'image/jpeg')
      .header('cache-control', 'no-store')
      .header('x-linesight-verdict', headerJson(kept.verdict))
      .send(body);
  });
};
