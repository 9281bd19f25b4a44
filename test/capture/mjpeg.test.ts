// MjpegSource against real HTTP MJPEG servers on 127.0.0.1 (node:http) serving the bundled
// sample JPEGs: a good camera, one that drops the connection mid-frame, one that goes quiet,
// and ones that answer with the wrong thing.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Frame } from '../../src/capture/frame.js';
import { MjpegSource } from '../../src/capture/mjpeg.js';
import type { SourceHealth } from '../../src/capture/source.js';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import type { MjpegSourceConfig } from '../../src/config/schema.js';
import { isLinesightError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { freePort, samplesDir } from '../helpers/env.js';

type TestContext = { after: (fn: () => void | Promise<void>) => void };

const samples = readdirSync(samplesDir)
  .filter((n) => n.endsWith('.jpg'))
  .sort()
  .slice(0, 10)
  .map((n) => readFileSync(join(samplesDir, n)));

const boundary = 'linesightframe';
const fastReconnect = { initialMs: 50, maxMs: 200, stallMs: 2000 };

async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse, connection: number) => void): Promise<string> {
  let connections = 0;
  const server: Server = createServer((req, res) => handler(req, res, ++connections));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/video`;
}

function startStream(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace; boundary=${boundary}`, 'Cache-Control': 'no-cache' });
}

function writePart(res: ServerResponse, jpeg: Buffer, withLength: boolean): void {
  res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\n${withLength ? `Content-Length: ${jpeg.length}\r\n` : ''}\r\n`);
  res.write(jpeg);
  res.write('\r\n');
}

/** Sends the samples at a camera's pace (not a wait in the test: the frame rate of the fake camera). */
function sendPaced(res: ServerResponse, frames: Buffer[], withLength: boolean, everyMs = 20): void {
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i === frames.length) return clearInterval(timer);
    writePart(res, frames[i++]!, withLength);
  }, everyMs);
  res.once('close', () => clearInterval(timer));
}

function mjpegSource(t: TestContext, url: string, extra: Record<string, unknown> = {}) {
  const config = buildConfig({ stations: [{ id: 'cam1', source: { type: 'mjpeg', url, reconnect: fastReconnect, ...extra }, model: 'm' }] }, { origin: 'test', baseDir: '/' });
  const logs: string[] = [];
  const log = createLogger({ level: 'warn', write: (line) => logs.push(line) });
  const source = new MjpegSource('cam1', config.stations[0]!.source as MjpegSourceConfig, { clock: systemClock, log });
  t.after(() => source.stop());
  return { source, logs };
}

function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Reads frames until `last` says stop; returns them all. */
async function framesUntil(source: MjpegSource, last: (f: Frame) => boolean): Promise<Frame[]> {
  const got: Frame[] = [];
  for await (const f of source.frames()) {
    got.push(f);
    if (last(f)) break;
  }
  return got;
}

/** Health has no events: poll it, bounded, for a state caused from outside (a server answering wrong). */
async function healthUntil(source: MjpegSource, ms: number, what: string, ok: (h: SourceHealth) => boolean): Promise<SourceHealth> {
  const deadline = Date.now() + ms;
  for (;;) {
    const h = source.health();
    if (ok(h)) return h;
    if (Date.now() > deadline) throw new Error(`health never showed ${what}; last: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const withLength of [true, false]) {
  test(`frames arrive byte-identical, with config headers sent (parts ${withLength ? 'with' : 'without'} Content-Length)`, async (t) => {
    const url = await serve(t, (req, res) => {
      if (req.headers.authorization !== 'Bearer t0ken') return res.writeHead(401).end();
      startStream(res);
      sendPaced(res, samples, withLength);
    });
    const { source } = mjpegSource(t, url, { headers: { Authorization: 'Bearer t0ken' } });
    await source.start();
    const got = await within(10_000, 'all sample frames', framesUntil(source, (f) => f.seq === samples.length));
    for (const f of got) {
      assert.equal(f.image.kind, 'encoded');
      assert.ok(Buffer.from(f.image.data).equals(samples[f.seq - 1]!), `frame ${f.seq} is the sample byte for byte`);
    }
    assert.equal(got.length + source.counters.superseded, samples.length);
    assert.equal(source.counters.decodeErrors, 0);
    const h = source.health();
    assert.equal(h.state, 'streaming');
    assert.equal(h.reconnects, 0);
  });
}

test('connection cut mid-frame: the partial frame is a decode error, the source reconnects and continues', async (t) => {
  const url = await serve(t, (_req, res, connection) => {
    startStream(res);
    if (connection > 1) return sendPaced(res, samples, true);
    writePart(res, samples[0]!, true);
    writePart(res, samples[1]!, true);
    const third = samples[2]!;
    res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: ${third.length}\r\n\r\n`);
    res.write(third.subarray(0, third.length >> 1), () => res.socket?.destroy());
  });
  const { source, logs } = mjpegSource(t, url);
  await source.start();
  // Frames 1 and 2 come from the first connection; from 3 on, the second one starts over at sample 0.
  const got = await within(10_000, 'frames after the reconnect', framesUntil(source, (f) => f.seq >= 3));
  const resumed = got.at(-1)!;
  assert.ok(Buffer.from(resumed.image.data).equals(samples[resumed.seq - 3]!));
  assert.equal(source.counters.decodeErrors, 1);
  const h = source.health();
  assert.equal(h.reconnects, 1);
  assert.equal(h.state, 'streaming');
  assert.ok(logs.some((l) => /session failed/.test(l) && /connection lost.*mid-frame/.test(l)), logs.join('\n'));
});

test('a server that goes quiet: the stall watchdog closes the session and reconnects', async (t) => {
  const url = await serve(t, (_req, res, connection) => {
    startStream(res);
    writePart(res, samples[0]!, true);
    if (connection > 1) sendPaced(res, samples.slice(1), true);
  });
  const { source } = mjpegSource(t, url, { reconnect: { initialMs: 50, maxMs: 200, stallMs: 300, connectMs: 300 } });
  await source.start();
  const frames = source.frames()[Symbol.asyncIterator]();
  assert.equal((await within(5_000, 'the first frame', frames.next())).value?.seq, 1);
  const stalled = await healthUntil(source, 5_000, 'the stall', (h) => h.reconnects > 0);
  assert.match(stalled.lastError ?? '', /no frame for 300 ms/);
  const next = await within(5_000, 'frames after the stall', frames.next());
  assert.ok(next.value && next.value.seq > 1);
});

test('wrong answers: 404 and text/html give a clear lastError and retries', async (t) => {
  const cases: Array<[(res: ServerResponse) => void, RegExp]> = [
    [(res) => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such stream'), /HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/video/],
    [(res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html>login</html>'), /content type text\/html from .*; expected multipart\/x-mixed-replace/],
  ];
  for (const [answer, message] of cases) {
    const url = await serve(t, (_req, res) => answer(res));
    const { source } = mjpegSource(t, url);
    await source.start();
    const h = await healthUntil(source, 5_000, `failure ${message}`, (x) => x.lastError !== null && x.reconnects >= 2);
    assert.match(h.lastError!, message);
    assert.equal(h.framesEmitted, 0);
    assert.equal(source.counters.decodeErrors, 0);
    await source.stop();
    assert.equal(source.health().state, 'stopped');
  }
});

test('nothing listening: start() resolves, health says failed with the reason; bad URL is a config error', async (t) => {
  const port = await freePort();
  const { source } = mjpegSource(t, `http://user:pw@127.0.0.1:${port}/video`);
  await source.start();
  const h = await healthUntil(source, 5_000, 'failed', (x) => x.state === 'failed' && x.reconnects >= 1);
  assert.match(h.lastError!, /ECONNREFUSED/);

  const bad = new MjpegSource('cam2', { type: 'mjpeg', url: 'ftp://cam/video', headers: {}, maxFrameMB: 32, reconnect: fastReconnect }, { clock: systemClock, log: createLogger({ level: 'silent' }) });
  await assert.rejects(bad.start(), (err) => isLinesightError(err, 'LS_ERR_SOURCE_CONFIG') && /ftp:\/\/cam\/video.*http:\/\//.test(err.message));
});

test('a camera sending an endless frame: it is dropped at maxFrameMB, counted, logged once, and the frames after it come through', async (t) => {
  const soiToSos = (jpeg: Buffer) => {
    for (let p = 2; ; ) {
      const marker = jpeg[p + 1]!;
      p += 2 + jpeg.readUInt16BE(p + 2);
      if (marker === 0xda) return jpeg.subarray(0, p);
    }
  };
  // 3 MiB of scan data with no end, in 64 KiB writes, then good frames.
  const scan = Buffer.alloc(64 * 1024, 0x55);
  const url = await serve(t, (_req, res) => {
    startStream(res);
    res.write(`--${boundary}\r\nContent-Type: image/jpeg\r\n\r\n`);
    res.write(soiToSos(samples[0]!));
    for (let i = 0; i < 48; i++) res.write(scan);
    res.write('\r\n');
    sendPaced(res, samples.slice(0, 3), false);
  });
  const { source, logs } = mjpegSource(t, url, { maxFrameMB: 1 });
  const drops: string[] = [];
  source.onDrop = (reason) => drops.push(reason);
  await source.start();
  const got = await within(10_000, 'the good frames after the endless one', framesUntil(source, (f) => Buffer.from(f.image.data).equals(samples[2]!)));
  assert.ok(got.every((f) => samples.slice(0, 3).some((s) => Buffer.from(f.image.data).equals(s))));
  assert.equal(source.counters.tooLarge, 1);
  assert.equal(source.health().framesTooLarge, 1);
  assert.deepEqual(drops.filter((d) => d === 'too-large'), ['too-large']);
  assert.equal(source.counters.decodeErrors, 0);
  assert.equal(logs.filter((l) => /LS_ERR_FRAME_TOO_LARGE/.test(l) || /grew past maxFrameMB \(1 MiB\)/.test(l)).length, 1, logs.join('\n'));
});
