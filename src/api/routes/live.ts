// What the dashboard reads: a Server-Sent Events stream of verdicts and station status, and the
// last inspected (and last rejected) frame of each station as an image.
import type { FastifyPluginAsync } from 'fastify';
import sharp from 'sharp';
import { LinesightError } from '../../errors.js';
import type { EventBus } from '../../events.js';
import type { StationImage, StationStatus } from '../../pipeline/station.js';

export interface LiveView {
  bus: EventBus;
  stations(): StationStatus[];
  image(station: string, which: 'last' | 'reject'): StationImage | undefined;
  /** How often the status event is sent (ms). */
  statusIntervalMs?: number;
}

function contentType(data: Uint8Array): string {
  if (data[0] === 0x89 && data[1] === 0x50) return 'image/png';
  if (data[0] === 0x52 && data[1] === 0x49) return 'image/webp';
  return 'image/jpeg';
}

export const liveRoutes: FastifyPluginAsync<{ live: LiveView }> = async (app, { live }) => {
  // Event streams never end by themselves: close them when the server closes, or it never does.
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('onClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/events', { schema: { summary: 'Server-Sent Events: `verdict` for every verdict, `stations` (status of every station) every 2 s.' } as object }, (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    streams.add(res);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('stations', live.stations());
    const off = live.bus.on('verdict', (v) => send('verdict', v));
    const timer = setInterval(() => send('stations', live.stations()), live.statusIntervalMs ?? 2000);
    req.raw.on('close', () => {
      streams.delete(res);
      off();
      clearInterval(timer);
    });
  });

  app.get<{ Params: { id: string }; Querystring: { which?: 'last' | 'reject' } }>('/stations/:id/image', {
    schema: {
      summary: 'The last inspected frame of a station (which=last), or the last one whose verdict rejected the part (which=reject); verdict in the X-Linesight-Verdict header.',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      querystring: { type: 'object', properties: { which: { type: 'string', enum: ['last', 'reject'] }, t: { type: 'string', description: 'Cache buster; ignored.' } }, additionalProperties: false },
    } as object,
  }, async (req, reply) => {
    const { id } = req.params;
    if (!live.stations().some((s) => s.id === id)) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [id] });
    const kept = live.image(id, req.query.which ?? 'last');
    if (!kept) throw new LinesightError('LS_ERR_NO_IMAGE', `station ${id} has no ${req.query.which ?? 'last'} image yet`);
    const img = kept.image;
    const body =
      img.kind === 'encoded'
        ? Buffer.from(img.data)
        : await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.format === 'gray' ? 1 : 3 } }).jpeg({ quality: 85 }).toBuffer();
    return reply
      .header('content-type', img.kind === 'encoded' ? contentType(img.data) : 'image/jpeg')
      .header('cache-control', 'no-store')
      .header('x-linesight-verdict', JSON.stringify(kept.verdict))
      .send(body);
  });
};
