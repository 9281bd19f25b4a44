// The live stream and image route under hostile clients and labels: a client limit, a client
// that never reads, and model labels that are not Latin-1.
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { LiveClients } from '../../src/api/live-clients.js';
import { buildConfig } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { samplesDir, tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';

const MiB = 1024 * 1024;

function appWith(t: Parameters<typeof tempDir>[0], extra: { models?: string; model?: string } = {}) {
  const config = buildConfig(
    {
      stations: [{ id: 'cam1', source: { type: 'replay', path: samplesDir, ratePerSec: 10 }, model: extra.model ?? 'label-orientation' }],
      ...(extra.models ? { models: { directory: extra.models, watch: false } } : {}),
      state: { directory: tempDir(t) },
      mqtt: { embedded: { port: 0 } },
      api: { port: 0 },
      summary: { intervalMs: 0 },
    },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  t.after(() => app.stop());
  return app;
}

test('30 live clients against the default limit of 16: the extra ones get LS_ERR_SSE_LIMIT, the first keep receiving', async (t) => {
  const app = appWith(t);
  await app.start();
  const open: IncomingMessage[] = [];
  t.after(() => open.forEach((r) => r.destroy()));
  const answers = await Promise.all(
    Array.from({ length: 30 }, () =>
      new Promise<{ status: number; res: IncomingMessage }>((resolve, reject) => get(`${app.apiUrl}/events`, (res) => resolve({ status: res.statusCode!, res })).on('error', reject)),
    ),
  );
  const ok = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status !== 200);
  open.push(...ok.map((a) => a.res));
  assert.equal(ok.length, 16);
  assert.equal(refused.length, 14);
  for (const r of refused) {
    assert.equal(r.status, 503);
    let text = '';
    for await (const c of r.res) text += c;
    const body = JSON.parse(text) as { error: string; message: string };
    assert.equal(body.error, 'LS_ERR_SSE_LIMIT');
    assert.match(body.message, /16 of 16 are connected \(api\.events\.maxClients\)/);
  }
  // Every admitted client gets the next verdicts.
  await Promise.all(
    ok.map(
      (a) =>
        new Promise<void>((resolve) => {
          let text = '';
          a.res.on('data', (c: Buffer) => {
            text += c.toString();
            if ((text.match(/event: verdict\n/g) ?? []).length >= 2) resolve();
          });
        }),
    ),
  );
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.match(metrics, /^linesight_queue_depth\{queue="sse-clients"\} 16$/m);
  assert.match(metrics, /^linesight_queue_capacity\{queue="sse-clients"\} 16$/m);
  assert.match(metrics, /^linesight_queue_dropped\{queue="sse-clients",reason="over-limit"\} 14$/m);
});

test('a live client that never reads is dropped once it is maxBufferedKB behind; a reading one gets every event; what the server holds for it stays bounded', async (t) => {
  const warnings: string[] = [];
  const log = createLogger({ level: 'warn', format: 'json', write: (line) => warnings.push(line) });
  const clients = new LiveClients({ maxClients: 4, maxBufferedBytes: MiB, log });
  const responses = new Map<number, import('node:http').ServerResponse>();
  const server = createServer((req, res) => {
    responses.set(req.socket.remotePort!, res);
    clients.add(res, String(req.socket.remotePort));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // closeAllConnections: a failed assertion must not leave the reader's connection holding the
  // server (and the test file) open.
  t.after(() => (server.closeAllConnections(), server.close()));
  const port = (server.address() as { port: number }).port;

  // The stalled client: a raw socket that sends its request and never reads.
  const stalled = connect(port, '127.0.0.1');
  stalled.on('error', () => {});
  stalled.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  stalled.pause();
  const stalledClosed = new Promise<void>((r) => stalled.once('close', () => r()));
  // The reading client.
  let received = 0;
  const reader = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/events`, resolve));
  t.after(() => reader.destroy());
  reader.on('data', (c: Buffer) => (received += c.length));
  while (clients.size < 2) await new Promise((r) => setTimeout(r, 5));
  const stalledRes = responses.get(stalled.localPort!)!;
  assert.ok(stalledRes, 'the stalled client reached the server');

  const payload = { pad: 'x'.repeat(64 * 1024) };
  const events = 2000; // 128 MiB in all: what the stalled client would hold without the bound
  const rssBefore = process.memoryUsage().rss / MiB;
  let rssPeak = rssBefore;
  let stalledBufferedPeak = 0;
  for (let i = 0; i < events; i++) {
    clients.broadcast('verdict', payload);
    if (!stalledRes.destroyed) stalledBufferedPeak = Math.max(stalledBufferedPeak, stalledRes.writableLength);
    // Let the sockets drain as a real event rate would.
    if (i % 8 === 0) {
      await new Promise((r) => setImmediate(r));
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss / MiB);
    }
  }
  while (received < events * (64 * 1024)) await new Promise((r) => setTimeout(r, 5));
  stalled.resume(); // lets the close be seen
  await stalledClosed;
  t.diagnostic(`RSS ${rssBefore.toFixed(0)} MiB before, peak ${rssPeak.toFixed(0)} MiB while 128 MiB were broadcast; the stalled client's buffer peaked at ${(stalledBufferedPeak / 1024).toFixed(0)} KiB`);
  // The bound itself: what the server holds for the stalled client never passes maxBufferedKB by
  // more than one event.
  assert.ok(stalledBufferedPeak <= MiB + 80 * 1024, `stalled client's buffer reached ${stalledBufferedPeak} bytes`);
  // RSS is reported, not asserted: it holds the burst's garbage until V8 collects it (about
  // 25 MiB on Node 20, 110 MiB on Node 24 with its larger young generation), which says nothing
  // about what stays pinned; the buffer bound above does.
  assert.deepEqual(clients.queues(), [{ queue: 'sse-clients', depth: 1, capacity: 4, dropped: { 'over-limit': 0, 'slow-client': 1 } }]);
  assert.equal(warnings.length, 1, 'logged once');
  assert.match(warnings[0]!, /not reading; disconnected/);
  reader.destroy();
});

test('labels outside Latin-1: the image route answers 200 and its verdict header parses', async (t) => {
  const models = tempDir(t);
  makeVersion(models, '1.0.0', (m) => ((m.labels = ['良品', '不良']), (m.failLabels = ['不良'])));
  const app = appWith(t, { models });
  await app.start();
  await new Promise<void>((resolve) => {
    const off = app.bus.on('verdict', () => {
      off();
      resolve();
    });
  });
  const r = await fetch(`${app.apiUrl}/stations/cam1/image`);
  assert.equal(r.status, 200, await r.clone().text());
  const header = r.headers.get('x-linesight-verdict')!;
  assert.match(header, /^[\x20-\x7e]+$/, 'ASCII only');
  const verdict = JSON.parse(header) as { label: string; seq: number };
  assert.equal(typeof verdict.seq, 'number');
  assert.ok(['良品', '不良'].includes(verdict.label), verdict.label);
});

test('a part\'s frame by sequence: headless, only the newest are kept; once a client asks, earlier parts stay findable (2 workers, default budget)', async (t) => {
  const app = appWith(t);
  await app.start();
  const seen: number[] = [];
  app.bus.on('verdict', (v) => seen.push(v.seq));
  const verdicts = (n: number) => new Promise<void>((resolve) => {
    const target = seen.length + n;
    const off = app.bus.on('verdict', () => seen.length >= target && (off(), resolve()));
  });
  const image = (seq: number) => fetch(`${app.apiUrl}/stations/cam1/image?seq=${seq}`);
  await verdicts(4);
  // Nobody watched: the oldest part's frame was not kept (test/pipeline/station.test.ts checks
  // that the last and last rejected always are).
  const old = await image(seen[0]!);
  assert.equal(old.status, 404);
  assert.equal(((await old.json()) as { error: string }).error, 'LS_ERR_NO_IMAGE_FOR_PART');
  // The question above marks a client as interested: from now on the ring is kept.
  const from = seen.length;
  await verdicts(4);
  const r = await image(seen[from]!);
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((JSON.parse(r.headers.get('x-linesight-verdict')!) as { seq: number }).seq, seen[from]);
});
