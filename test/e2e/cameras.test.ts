// Cameras on a running service: an RTSP camera that goes away and comes back, an MJPEG camera,
// and cameras that cannot start at all; the box keeps inspecting through all of it.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { App } from '../../src/app.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Verdict } from '../../src/verdict.js';
import { freePort, samplesDir, tempDir, until } from '../helpers/env.js';
import { startRtspCamera } from '../helpers/rtsp-camera.js';

function appFor(t: Parameters<typeof tempDir>[0], stations: unknown[]) {
  const config = buildConfig(
    { line: 'L5', stations, state: { directory: tempDir(t) }, mqtt: { embedded: { port: 0 } }, api: { port: 0 }, summary: { intervalMs: 0 } },
    { origin: 'test', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  const verdicts: Verdict[] = [];
  app.bus.on('verdict', (v) => verdicts.push(v));
  const more = (camera: string, n: number) =>
    new Promise<void>((resolve) => {
      let seen = 0;
      const off = app.bus.on('verdict', (v) => {
        if (v.camera === camera && v.verdict !== 'error' && ++seen >= n) {
          off();
          resolve();
        }
      });
    });
  t.after(() => app.stop());
  return { app, verdicts, more };
}


test('an RTSP camera is inspected, goes down, comes back; health shows the outage; the process carries on', async (t) => {
  const camera = await startRtspCamera(t, { width: 640, height: 480, fps: 10 });
  const { app, more } = appFor(t, [
    { id: 'rtsp', source: { type: 'ffmpeg', url: camera.url, reconnect: { initialMs: 200, maxMs: 1000, stallMs: 2000 } }, model: 'label-orientation' },
  ]);
  await app.start();
  await more('rtsp', 3);
  const station = () => app.stations[0]!.status();
  assert.equal(station().source.state, 'streaming');

  await camera.kill();
  await until('the outage to show', () => station().source.state !== 'streaming' && station().source.lastError !== null);
  const down = (await (await fetch(`${app.apiUrl}/stations/rtsp`)).json()) as { source: { state: string; lastError: string; reconnects: number } };
  assert.notEqual(down.source.state, 'streaming');
  assert.ok(down.source.lastError.length > 0);
  const metrics = await (await fetch(`${app.apiUrl}/metrics`)).text();
  assert.match(metrics, /linesight_camera_state\{camera="rtsp",state="streaming"\} 0/);

  await camera.restart();
  await more('rtsp', 3);
  assert.equal(station().source.state, 'streaming');
  assert.ok(station().source.reconnects > 0);
  assert.equal((await fetch(`${app.apiUrl}/healthz`)).status, 200);
});

test('an MJPEG camera is inspected while cameras that cannot start fail alone, with the reason', async (t) => {
  const jpegs = readdirSync(samplesDir).filter((f) => f.endsWith('.jpg')).sort().map((f) => readFileSync(join(samplesDir, f)));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
    let i = 0;
    const timer = setInterval(() => {
      const jpeg = jpegs[i++ % jpegs.length]!;
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    }, 100);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  const port = (server.address() as { port: number }).port;
  const closed = await freePort();
  const { app, verdicts, more } = appFor(t, [
    { id: 'mjpeg', source: { type: 'mjpeg', url: `http://127.0.0.1:${port}/stream` }, model: 'label-orientation' },
    { id: 'unplugged', source: { type: 'ffmpeg', url: '/dev/video9' }, model: 'label-orientation' },
    { id: 'typo', source: { type: 'ffmpeg', url: 'rstp://10.0.0.9/stream' }, model: 'label-orientation' },
    { id: 'offline', source: { type: 'ffmpeg', url: `rtsp://127.0.0.1:${closed}/cam`, reconnect: { initialMs: 100, maxMs: 500 } }, model: 'label-orientation' },
  ]);
  await app.start();
  await more('mjpeg', 5);
  const good = verdicts.filter((v) => v.camera === 'mjpeg');
  assert.ok(good.some((v) => v.verdict === 'pass') && good.some((v) => v.verdict === 'fail'));
  await until('the offline camera to fail', () => app.stations[3]!.status().source.state === 'failed');

  const stations = (await (await fetch(`${app.apiUrl}/stations`)).json()) as { stations: Array<{ id: string; source: { state: string; lastError: string | null } }> };
  const by = Object.fromEntries(stations.stations.map((s) => [s.id, s.source]));
  assert.equal(by.mjpeg!.state, 'streaming');
  assert.equal(by.unplugged!.state, 'failed');
  assert.match(by.unplugged!.lastError!, /no such device: \/dev\/video9/);
  assert.match(by.typo!.lastError!, /unknown scheme rstp:\/\//);
  assert.match(by.offline!.lastError!, /Connection refused/i);
  const ready = await fetch(`${app.apiUrl}/readyz`);
  assert.equal(ready.status, 503);
  const report = (await ready.json()) as { checks: Record<string, { ready: boolean; detail: string }> };
  assert.equal(report.checks['station:mjpeg']!.ready, true);
  assert.match(report.checks['station:unplugged']!.detail, /camera not running: .*no such device/);
});
