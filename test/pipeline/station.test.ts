// A station with a hand-driven clock and the real pool: the deadline decides, exactly once.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { InferencePool } from '../../src/inference/pool.js';
import { ModelRegistry, type ModelVersion } from '../../src/models/registry.js';
import { Station, type DecidedPart, type StationOptions } from '../../src/pipeline/station.js';
import sharp from 'sharp';
import type { Verdict } from '../../src/verdict.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { modelsDir, samplesDir, truncatedJpeg } from '../helpers/env.js';
import { PushSource } from '../helpers/push-source.js';
import { cameraFrame } from '../helpers/jpeg-frames.js';

let pool: InferencePool;
let version: ModelVersion;
// Station deadlines and the pool's expiry check must read the same clock.
const clock = new FakeClock();

before(async () => {
  pool = new InferencePool({ workers: 2, intraOpThreads: 1, executionProviders: ['cpu'], graphOptimization: 'all', clock, log: silentLogger });
  pool.start();
  version = await new ModelRegistry(modelsDir).resolve('label-orientation');
  await pool.warmUp({ key: version.key, bytes: version.bytes, manifest: version.manifest });
});
after(() => pool.close());

function setup(stationYaml: Record<string, unknown> = {}, extra: Partial<StationOptions> = {}) {
  const bus = new EventBus(silentLogger);
  const source = new PushSource();
  const config = buildConfig(
    { line: 'L1', stations: [{ id: 'cam1', source: { type: 'replay', path: '/x' }, model: 'label-orientation', ...stationYaml }] },
    { origin: 'test', baseDir: '/' },
  );
  const station = new Station({ line: 'L1', config: config.stations[0]!, source, pool, bus, clock, log: silentLogger, runId: 'r1', ...extra });
  station.setModel({ ref: { key: version.key, bytes: version.bytes, manifest: version.manifest }, manifest: version.manifest, provider: 'cpu' });
  const verdicts: Verdict[] = [];
  bus.on('verdict', (v) => verdicts.push(v));
  const late: string[] = [];
  bus.on('late-result', (e) => late.push(e.partId));
  return { clock, bus, source, station, verdicts, late };
}

const frame = (clock: FakeClock, seq: number, file: string, partId?: string) => ({
  camera: 'cam1',
  seq,
  ...(partId ? { partId } : {}),
  capturedAt: clock.now(),
  capturedWall: clock.wallNow(),
  image: { kind: 'encoded' as const, data: new Uint8Array(readFileSync(file)) },
});

function nextVerdict(bus: EventBus): Promise<Verdict> {
  return new Promise((resolve) => {
    const off = bus.on('verdict', (v) => {
      off();
      resolve(v);
    });
  });
}

test('a result in time gives pass/fail with the model version and timings', async () => {
  const { clock, bus, station } = setup();
  const got = nextVerdict(bus);
  station.inspect(frame(clock, 1, join(samplesDir, '002-copy-centre-rot180.jpg'), 'P-100'));
  const v = await got;
  assert.equal(v.verdict, 'fail');
  assert.equal(v.action, 'reject');
  assert.equal(v.label, 'rotated-180');
  assert.equal(v.partId, 'P-100');
  assert.deepEqual(v.model, { name: 'label-orientation', version: '1.0.0' });
  assert.equal(v.deadlineMet, true);
  assert.equal(v.id, 'L1.cam1.r1.1');
  assert.ok(v.timings.inferenceMs! > 0 && v.timings.preprocessMs! > 0);
});

test('no result by the deadline: one timeout verdict with the fail-safe; the late result is only logged', async () => {
  const { clock, bus, station, verdicts, late } = setup({ failSafe: 'reject' });
  const lateSeen = new Promise<void>((r) => bus.on('late-result', () => r()));
  station.inspect(frame(clock, 1, join(samplesDir, '001-copy-centre-upright.jpg')));
  clock.advance(100);
  assert.equal(verdicts.length, 1);
  const v = verdicts[0]!;
  assert.equal(v.verdict, 'timeout');
  assert.equal(v.action, 'reject');
  assert.equal(v.deadlineMet, false);
  assert.equal(v.error?.code, 'LS_ERR_DEADLINE_EXPIRED');
  await lateSeen;
  assert.equal(verdicts.length, 1, 'the late pass must not become a second verdict');
  assert.equal(late.length, 1);
  assert.equal(station.status().lateResults, 1);
});

test('fail-safe accept applies to timeouts and errors; uncertain has its own action', async () => {
  const { clock, bus, station, verdicts } = setup({ failSafe: 'accept', uncertainAction: 'reject' });
  station.inspect(frame(clock, 1, join(samplesDir, '001-copy-centre-upright.jpg')));
  clock.advance(100);
  assert.equal(verdicts[0]!.verdict, 'timeout');
  assert.equal(verdicts[0]!.action, 'accept');
  const err = nextVerdict(bus);
  station.inspect(frame(clock, 2, truncatedJpeg));
  const e = await err;
  assert.equal(e.verdict, 'error');
  assert.equal(e.action, 'accept');
  assert.equal(e.error?.code, 'LS_ERR_IMAGE_DECODE');
  const unc = nextVerdict(bus);
  station.inspect(frame(clock, 3, join(samplesDir, '024-produkt-rot180.jpg')));
  const u = await unc;
  assert.equal(u.verdict, 'uncertain');
  assert.equal(u.action, 'reject');
});

test('station thresholds override the manifest', async () => {
  const { clock, bus, station } = setup({ thresholds: { pass: 0.5, fail: 0.7 } });
  const got = nextVerdict(bus);
  station.inspect(frame(clock, 1, join(samplesDir, '024-produkt-rot180.jpg')));
  // p(rotated) ~0.78: uncertain at the manifest's 0.9, fail at 0.7.
  assert.equal((await got).verdict, 'fail');
});

test('stop() waits until every accepted part has its verdict', async () => {
  const { clock, source, station, verdicts } = setup();
  await station.start();
  // Triggered parts (with part ids): never shed, however deep the queue.
  for (let i = 1; i <= 6; i++) source.push(frame(clock, i, join(samplesDir, `00${i}-${['copy-centre', 'copy-centre', 'notice', 'notice', 'china', 'china'][i - 1]}-${i % 2 ? 'upright' : 'rot180'}.jpg`), `P${i}`));
  await station.stop();
  assert.equal(verdicts.length, 6);
  // Two workers finish in either order: each part is judged by its own sequence number.
  const bySeq = [...verdicts].sort((a, b) => a.seq - b.seq);
  assert.deepEqual(bySeq.map((v) => v.verdict), ['pass', 'fail', 'pass', 'fail', 'pass', 'fail']);
  assert.deepEqual(bySeq.map((v) => v.partId), ['P1', 'P2', 'P3', 'P4', 'P5', 'P6']);
  assert.equal(station.status().inFlight, 0);
  assert.equal(station.status().dropped, 0);
});

test('free-run frames beyond maxQueue are shed and counted, never answered twice', async () => {
  const { clock, bus, source, station, verdicts } = setup({ maxQueue: 2 });
  const drops: string[] = [];
  bus.on('frame-dropped', (e) => drops.push(e.reason));
  await station.start();
  for (let i = 1; i <= 8; i++) source.push(frame(clock, i, join(samplesDir, '001-copy-centre-upright.jpg')));
  await station.stop();
  assert.ok(drops.length > 0 && drops.every((r) => r === 'overload'));
  assert.equal(verdicts.length + drops.length, 8);
  assert.equal(new Set(verdicts.map((v) => v.seq)).size, verdicts.length);
  assert.equal(station.status().dropped, drops.length);
});

test('frames older than maxFrameAgeMs when taken are dropped as stale and counted', async () => {
  const { clock, bus, source, station, verdicts } = setup({ maxFrameAgeMs: 50 });
  const drops: string[] = [];
  bus.on('frame-dropped', (e) => drops.push(e.reason));
  await station.start();
  const old = frame(clock, 1, join(samplesDir, '001-copy-centre-upright.jpg'));
  clock.advance(80); // it waited 80 ms somewhere before the station got it
  source.push(old);
  source.push(frame(clock, 2, join(samplesDir, '003-notice-upright.jpg')));
  await station.stop();
  assert.deepEqual(drops, ['stale']);
  assert.deepEqual(verdicts.map((v) => v.seq), [2]);
});

test('evidence sees every decided part with its own frame (handed back by its worker) and the rule, before the verdict is emitted', async () => {
  const { data, info } = await sharp(join(samplesDir, '002-copy-centre-rot180.jpg')).raw().toBuffer({ resolveWithObject: true });
  const raw = (seq: number) => ({
    camera: 'cam1', seq, partId: `R-${seq}`, capturedAt: clock.now(), capturedWall: clock.wallNow(),
    image: { kind: 'raw' as const, data: new Uint8Array(data), width: info.width, height: info.height, format: 'rgb' as const },
  });
  const order: string[] = [];
  const decided: DecidedPart[] = [];
  const { bus, station } = setup({}, { onDecided: (p) => (decided.push(p), order.push(`evidence ${p.verdict.partId}`)) });
  bus.on('verdict', (v) => order.push(`verdict ${v.partId}`));
  const three = new Promise<void>((resolve) => bus.on('verdict', () => decided.length === 3 && resolve()));
  // Three raw frames at the same instant, each moved to a worker and back.
  const frames = [1, 2, 3].map(raw);
  for (const f of frames) station.inspect(f);
  await three;
  assert.ok(frames.every((f) => f.image.data.byteLength === 0), 'the frames were moved to the workers, not copied');
  assert.deepEqual(order.filter((o) => o.endsWith('R-1')), ['evidence R-1', 'verdict R-1']);
  assert.deepEqual(decided.map((p) => p.verdict.verdict), ['fail', 'fail', 'fail']);
  assert.deepEqual(decided[0]!.rule.failLabels, version.manifest.failLabels);
  const withImage = decided.filter((p) => p.image && p.image.kind === 'raw' && p.image.width === info.width && Buffer.from(p.image.data).equals(data));
  assert.equal(withImage.length, 3);
  assert.equal(new Set(decided.map((p) => p.image!.data.buffer)).size, 3, 'each part has its own bytes');
});

test("a timeout's frame comes back with the late result, and the dashboard keeps it", async () => {
  const decided: DecidedPart[] = [];
  const { clock, bus, station, verdicts } = setup({ failSafe: 'reject' }, { onDecided: (p) => decided.push(p) });
  const lateSeen = new Promise<void>((r) => bus.on('late-result', () => r()));
  const file = join(samplesDir, '001-copy-centre-upright.jpg');
  station.inspect(frame(clock, 1, file));
  clock.advance(100);
  assert.equal(verdicts[0]!.verdict, 'timeout');
  assert.equal(decided[0]!.image, undefined, 'the frame is at its worker when the deadline passes (evidence keeps no timeouts)');
  assert.equal(station.imageOf(1), undefined);
  await lateSeen;
  const kept = station.imageOf(1);
  assert.equal(kept?.verdict.verdict, 'timeout');
  assert.ok(kept && Buffer.from(kept.image.data).equals(readFileSync(file)), 'the same bytes came back');
  assert.equal(station.image('last')?.verdict.seq, 1);
  assert.equal(station.image('reject')?.verdict.seq, 1, 'the fail-safe rejected it');
});

test("a late frame does not displace a newer part's as the last one", async () => {
  const { clock, bus, station } = setup();
  const lateSeen = new Promise<void>((r) => bus.on('late-result', () => r()));
  // Part 1 a 12 MP frame (tens of ms to decode), part 2 a small crop: part 2 is decided first.
  const big = await cameraFrame(4000, 3000);
  station.inspect({ camera: 'cam1', seq: 1, capturedAt: clock.now(), capturedWall: clock.wallNow(), image: { kind: 'encoded', data: new Uint8Array(big) } });
  clock.advance(100); // part 1 times out while its worker holds the frame
  const second = nextVerdict(bus);
  station.inspect(frame(clock, 2, join(samplesDir, '001-copy-centre-upright.jpg')));
  assert.equal((await second).seq, 2);
  await lateSeen;
  await new Promise((r) => setImmediate(r));
  assert.equal(station.image('last')?.verdict.seq, 2);
  assert.equal(station.imageOf(1)?.image.data.byteLength, big.byteLength, 'part 1 is still findable by its sequence');
});

test('recent frames are kept by sequence number only while someone may ask for them; the last and last rejected always', async () => {
  let wanted = false;
  const { clock, bus, station } = setup({}, { recentImagesWanted: () => wanted });
  const decide = async (seq: number, file: string) => {
    const got = nextVerdict(bus);
    station.inspect(frame(clock, seq, join(samplesDir, file)));
    return got;
  };
  assert.equal((await decide(1, '002-copy-centre-rot180.jpg')).action, 'reject');
  assert.equal((await decide(2, '001-copy-centre-upright.jpg')).action, 'accept');
  await decide(3, '001-copy-centre-upright.jpg');
  // Nobody watching: part 2's frame is gone, part 1 (the last reject) and part 3 (the last) stay.
  assert.equal(station.imageOf(2), undefined);
  assert.equal(station.imageOf(1)?.verdict.seq, 1);
  assert.equal(station.imageOf(3)?.verdict.seq, 3);
  assert.equal(station.image('reject')?.verdict.seq, 1);
  wanted = true;
  await decide(4, '001-copy-centre-upright.jpg');
  await decide(5, '001-copy-centre-upright.jpg');
  assert.equal(station.imageOf(4)?.verdict.seq, 4, 'a dashboard is open: earlier parts stay findable');
  assert.ok((station.imageOf(4)?.image.data.byteLength ?? 0) > 0);
  wanted = false;
  await decide(6, '001-copy-centre-upright.jpg');
  assert.equal(station.imageOf(4), undefined, 'the dashboard closed: the ring is given back');
});
