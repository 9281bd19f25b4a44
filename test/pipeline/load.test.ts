// Stations on the real pool under load that a line really makes: 2 workers, the default
// 100 ms budget, 12 MP frames, a heavy station beside a light one, a thread that hangs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { systemClock } from '../../src/clock.js';
import { buildConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { InferencePool } from '../../src/inference/pool.js';
import { ModelRegistry, type ModelVersion } from '../../src/models/registry.js';
import { Station } from '../../src/pipeline/station.js';
import type { Verdict } from '../../src/verdict.js';
import { samplesDir, modelsDir } from '../helpers/env.js';
import { PushSource } from '../helpers/push-source.js';

let version: ModelVersion;
let twelveMp: Buffer;
const small = readFileSync(join(samplesDir, '001-copy-centre-upright.jpg'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  version = await new ModelRegistry(modelsDir).resolve('label-orientation');
  // A noisy 4000 x 3000 JPEG: its entropy decoding alone takes about the whole budget here.
  twelveMp = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 90 }).toBuffer();
});

/** A warm 2-worker pool and a bus that records every verdict. */
async function warmPool(t: { after: (fn: () => Promise<void>) => void }, workerFile?: URL) {
  const pool = makePool(workerFile);
  t.after(() => pool.close());
  await pool.warmUp({ key: version.key, bytes: version.bytes, manifest: version.manifest });
  const bus = new EventBus(silentLogger);
  const verdicts: Verdict[] = [];
  bus.on('verdict', (v) => verdicts.push(v));
  return { pool, bus, verdicts };
}

function makePool(workerFile?: URL) {
  const pool = new InferencePool({
    workers: 2,
    intraOpThreads: 1,
    executionProviders: ['cpu'],
    graphOptimization: 'all',
    clock: systemClock,
    log: silentLogger,
    ...(workerFile ? { workerFile } : {}),
  });
  pool.start();
  return pool;
}

function station(pool: InferencePool, bus: EventBus, id: string) {
  const config = buildConfig({ line: 'L1', stations: [{ id, source: { type: 'replay', path: '/x' }, model: 'label-orientation' }] }, { origin: 'test', baseDir: '/' });
  const source = new PushSource();
  const s = new Station({ line: 'L1', config: config.stations[0]!, source, pool, bus, clock: systemClock, log: silentLogger, runId: 'r' });
  s.setModel({ ref: { key: version.key, bytes: version.bytes, manifest: version.manifest }, manifest: version.manifest, provider: 'cpu' });
  let seq = 0;
  const push = (data: Uint8Array) => source.push({ camera: id, seq: ++seq, capturedAt: systemClock.now(), capturedWall: systemClock.wallNow(), image: { kind: 'encoded', data: new Uint8Array(data) } });
  return { station: s, push, seqNow: () => seq };
}

const decided = (v: Verdict) => v.verdict === 'pass' || v.verdict === 'fail' || v.verdict === 'uncertain';

test('after a burst of 12 MP frames, normal frames get model verdicts within budget again', async (t) => {
  const { pool, bus, verdicts } = await warmPool(t);
  const cam = station(pool, bus, 'cam1');
  await cam.station.start();
  for (let i = 0; i < 10; i++, await sleep(50)) cam.push(small);
  const burstFrom = cam.seqNow() + 1;
  // Faster than two workers decode 12 MP frames, so the burst queues past the budget on any box.
  for (let i = 0; i < 20; i++, await sleep(10)) cam.push(twelveMp);
  const burstTo = cam.seqNow();
  for (let i = 0; i < 40; i++, await sleep(75)) cam.push(small);
  await cam.station.stop();
  const burst = verdicts.filter((v) => v.seq >= burstFrom && v.seq <= burstTo);
  const afterBurst = verdicts.filter((v) => v.seq > burstTo);
  assert.ok(burst.some((v) => v.verdict === 'timeout'), 'the 12 MP frames cannot make the budget here');
  // Within a few seconds (here: the last 2 s of normal frames), every part is decided by the model in time.
  const settled = afterBurst.slice(-25);
  assert.equal(settled.length, 25);
  const bad = settled.filter((v) => !decided(v) || !v.deadlineMet);
  assert.deepEqual(bad.map((v) => `${v.seq}:${v.verdict}:${v.timings.totalMs}`), []);
});

test('a heavy station beside a light one: the light one keeps its verdicts within budget', async (t) => {
  const { pool, bus, verdicts } = await warmPool(t);
  const heavy = station(pool, bus, 'heavy');
  const light = station(pool, bus, 'light');
  await heavy.station.start();
  await light.station.start();
  // The heavy camera sends 12 MP frames at 20 fps (more than both workers could decode); the light
  // one a small frame every 100 ms.
  let running = true;
  const heavyLoop = (async () => {
    while (running) {
      heavy.push(twelveMp);
      await sleep(50);
    }
  })();
  for (let i = 0; i < 40; i++, await sleep(100)) light.push(small);
  running = false;
  await heavyLoop;
  await Promise.all([heavy.station.stop(), light.station.stop()]);
  const lightVerdicts = verdicts.filter((v) => v.camera === 'light');
  const heavyVerdicts = verdicts.filter((v) => v.camera === 'heavy');
  assert.equal(lightVerdicts.length, 40);
  assert.deepEqual(lightVerdicts.filter((v) => !decided(v) || !v.deadlineMet).map((v) => `${v.seq}:${v.verdict}:${v.timings.totalMs}`), []);
  assert.ok(heavyVerdicts.length > 0, 'the heavy station still gets its share');
});

test('a thread that hangs is replaced: its part gets its verdict on time, the next parts pass', async (t) => {
  const { pool, bus, verdicts } = await warmPool(t, new URL('../fixtures/hanging-worker.js', import.meta.url));
  const threadsBefore = pool.threadReport().map((x) => x.threadId);
  const late: Array<{ partId: string; status: string }> = [];
  bus.on('late-result', (e) => late.push(e));
  const cam = station(pool, bus, 'cam1');
  await cam.station.start();
  const hang = Buffer.concat([Buffer.from('HANG'), small]);
  cam.push(hang);
  const hungSeq = cam.seqNow();
  // Parts keep coming at 10/s through the hang and the replacement.
  for (let i = 0; i < 25; i++, await sleep(100)) cam.push(small);
  await cam.station.stop();
  const hung = verdicts.find((v) => v.seq === hungSeq)!;
  // The part cannot wait for the hang to be confirmed (10 x its budget): at its deadline it
  // gets `timeout` with the fail-safe action, and the hang is logged against it later.
  assert.equal(hung.verdict, 'timeout');
  assert.equal(hung.action, 'reject');
  assert.ok(late.some((e) => e.partId === hung.partId && e.status === 'LS_ERR_WORKER_HUNG'), JSON.stringify(late));
  assert.equal(pool.stats.hung, 1);
  const threadsAfter = pool.threadReport().map((x) => x.threadId);
  assert.equal(threadsAfter.length, 2);
  assert.equal(threadsAfter.filter((id) => !threadsBefore.includes(id)).length, 1, 'the hung thread was replaced');
  const others = verdicts.filter((v) => v.seq !== hungSeq);
  assert.equal(others.length, 25);
  assert.deepEqual(others.filter((v) => !decided(v)).map((v) => `${v.seq}:${v.verdict}`), []);
});
