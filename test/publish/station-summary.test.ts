import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { CloudSendConfig } from '../../src/config/schema.js';
import { CloudFeed } from '../../src/publish/cloud-feed.js';
import type { CloudSummaryPayload } from '../../src/publish/cloud-messages.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { NewMessage } from '../../src/publish/outbox.js';
import { LatencyHistogram, MAX_MODELS_PER_WINDOW, StationSummary } from '../../src/publish/station-summary.js';
import type { Verdict, VerdictKind } from '../../src/verdict.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { makeVerdict } from '../helpers/verdict-factory.js';
import { Value } from '@sinclair/typebox/value';
import { seededRandom } from '../helpers/seeded-random.js';

const random = seededRandom;

/** The exact nearest-rank percentile of the values: the brute force the histogram is held to. */
function exactPercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= want * 0.005 + 0.01, `${what}: got ${got}, exact ${want}`);

test('latency percentiles are within 0.5 % of the exact ones, for narrow, wide and heavy-tailed latencies', () => {
  const rnd = random(7);
  const shapes: Record<string, () => number> = {
    steady: () => 8 + rnd() * 4,
    wide: () => 0.5 + rnd() * 5000,
    'heavy tail': () => (rnd() < 0.98 ? 9 + rnd() * 2 : 60 + rnd() * 3000),
    tiny: () => rnd() * 0.05,
  };
  for (const [shape, draw] of Object.entries(shapes)) {
    for (const n of [1, 2, 17, 600, 20_000]) {
      const h = new LatencyHistogram();
      const values = Array.from({ length: n }, draw);
      for (const v of values) h.add(v);
      for (const p of [50, 95, 99, 100]) close(h.percentile(p), exactPercentile(values, p), `${shape} n=${n} p${p}`);
      assert.equal(h.max, Math.max(...values));
    }
  }
  const empty = new LatencyHistogram();
  assert.ok(Number.isNaN(empty.percentile(50)));
});

const send = (over: Partial<CloudSendConfig> = {}): CloudSendConfig => ({ ...Value.Default(CloudSendConfig, {}) as CloudSendConfig, ...over });

function summaries(outbox: MemoryOutbox): CloudSummaryPayload[] {
  return outbox
    .next(100_000)
    .filter((m) => m.class === 'summary')
    .map((m) => JSON.parse(m.payload.toString()) as CloudSummaryPayload);
}

test('a summary over a simulated minute: counts, yield, percentiles, budget misses, model versions, window and id', () => {
  const clock = new FakeClock(); // wall time starts on a minute boundary
  const bus = new EventBus(silentLogger);
  const outbox = new MemoryOutbox({ clock });
  const feed = new CloudFeed({ line: 'L7', stations: [{ id: 'cam1' }], send: send({ summaries: 60 }), outbox, bus, clock, log: silentLogger });
  feed.start();
  const rnd = random(42);
  const sent: Verdict[] = [];
  const kinds: VerdictKind[] = ['pass', 'pass', 'pass', 'fail', 'uncertain', 'timeout', 'error'];
  // 10 parts/s for one minute; a model swap half way; some parts over budget.
  for (let i = 0; i < 600; i++) {
    const kind = rnd() < 0.9 ? 'pass' : kinds[Math.floor(rnd() * kinds.length)]!;
    const totalMs = kind === 'timeout' ? 100 + rnd() * 5 : 5 + rnd() * 30 + (rnd() < 0.01 ? 120 : 0);
    const v = makeVerdict({ seq: i, kind, totalMs, deadlineMet: kind !== 'timeout' && totalMs <= 100, model: { name: 'label-orientation', version: i < 300 ? '1.0.0' : '1.1.0' } });
    bus.emit('verdict', v);
    sent.push(v);
    clock.advance(100);
  }
  const [s, ...more] = summaries(outbox);
  assert.equal(more.length, 0);
  assert.ok(s);
  const count = (k: VerdictKind) => sent.filter((v) => v.verdict === k).length;
  assert.deepEqual(s.counts, { pass: count('pass'), fail: count('fail'), uncertain: count('uncertain'), timeout: count('timeout'), error: count('error') });
  assert.equal(s.parts, 600);
  assert.equal(s.yield, Math.round((count('pass') / 600) * 1e4) / 1e4);
  assert.equal(s.budgetMisses, sent.filter((v) => !v.deadlineMet).length);
  assert.ok(s.budgetMisses > 0);
  const lat = sent.map((v) => v.timings.totalMs);
  close(s.latencyMs!.p50, exactPercentile(lat, 50), 'p50');
  close(s.latencyMs!.p95, exactPercentile(lat, 95), 'p95');
  close(s.latencyMs!.p99, exactPercentile(lat, 99), 'p99');
  assert.equal(s.latencyMs!.max, Math.round(Math.max(...lat) * 100) / 100);
  assert.deepEqual(s.models, [
    { model: 'label-orientation@1.0.0', parts: 300 },
    { model: 'label-orientation@1.1.0', parts: 300 },
  ]);
  assert.deepEqual(s.window, { start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z' });
  assert.equal(s.id, 'L7.cam1.summary.2026-01-01T00:00:00.000Z');
  assert.equal(s.v, 1);

  // An idle minute still reports (the station is alive), with no yield and no latency.
  clock.advance(60_000);
  const [idle] = summaries(outbox);
  assert.equal(idle!.parts, 0);
  assert.equal(idle!.yield, null);
  assert.equal(idle!.latencyMs, null);
  assert.equal(idle!.window.start, '2026-01-01T00:01:00.000Z');
  feed.stop();
  assert.equal(clock.pendingTimers, 0);
});

test('the same window gives the same summary id after a restart, and the outbox keeps one copy', () => {
  const messages: NewMessage[] = [];
  for (let run = 0; run < 2; run++) {
    // Each run is a fresh process: new clock, bus, outbox and feed; the same wall time.
    const clock = new FakeClock(5_000, Date.UTC(2026, 0, 1, 8, 0, 0));
    const bus = new EventBus(silentLogger);
    const outbox = new MemoryOutbox({ clock });
    const feed = new CloudFeed({ line: 'L7', stations: [{ id: 'cam1' }], send: send({ summaries: 30 }), outbox, bus, clock, log: silentLogger });
    feed.start();
    bus.emit('verdict', makeVerdict({ seq: 1 }));
    clock.advance(30_000);
    feed.stop();
    messages.push(...outbox.next(100).filter((m) => m.class === 'summary'));
  }
  assert.equal(messages.length, 2);
  assert.equal(messages[0]!.id, 'L7.cam1.summary.2026-01-01T08:00:00.000Z');
  assert.equal(messages[1]!.id, messages[0]!.id);
  assert.deepEqual(messages[1]!.payload, messages[0]!.payload);
  const shared = new MemoryOutbox({ clock: new FakeClock() });
  for (const m of messages) assert.equal(shared.add(m), true);
  assert.equal(shared.stats().depth, 1);
});

test('a partial window is sent on stop, from where the last one ended', () => {
  const clock = new FakeClock(1_000, Date.UTC(2026, 0, 1, 8, 0, 10));
  const bus = new EventBus(silentLogger);
  const outbox = new MemoryOutbox({ clock });
  const feed = new CloudFeed({ line: 'L7', stations: [{ id: 'cam1' }], send: send({ summaries: 60 }), outbox, bus, clock, log: silentLogger });
  feed.start();
  bus.emit('verdict', makeVerdict({ seq: 1 }));
  clock.advance(50_000); // the first window is 08:00:10 to the boundary at 08:01:00
  bus.emit('verdict', makeVerdict({ seq: 2, kind: 'fail' }));
  clock.advance(5_000);
  feed.stop();
  const s = summaries(outbox);
  assert.deepEqual(
    s.map((x) => [x.window.start, x.window.end, x.parts]),
    [
      ['2026-01-01T08:00:10.000Z', '2026-01-01T08:01:00.000Z', 1],
      ['2026-01-01T08:01:00.000Z', '2026-01-01T08:01:05.000Z', 1],
    ],
  );
});

// Garbage from building verdicts is not growth: collect it before measuring.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('summary state stays the same size over 100,000 verdicts, each from a different model version', () => {
  const summary = new StationSummary('L7', 'cam1', Date.UTC(2026, 0, 1));
  const rnd = random(3);
  const feed = (from: number, to: number) => {
    for (let i = from; i < to; i++) summary.add(makeVerdict({ seq: i, kind: i % 50 === 0 ? 'fail' : 'pass', totalMs: rnd() * 200, model: { name: 'm', version: `1.0.${i}` } }));
  };
  feed(0, 10_000);
  gc();
  const before = process.memoryUsage().heapUsed;
  feed(10_000, 110_000);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(grown < 512 * 1024, `heap grew ${grown} bytes over 100,000 verdicts`);
  const payload = summary.close(Date.UTC(2026, 0, 1, 1));
  assert.equal(payload.parts, 110_000);
  assert.equal(payload.models.length, MAX_MODELS_PER_WINDOW + 1);
  assert.deepEqual(payload.models.at(-1), { model: 'other', parts: 110_000 - MAX_MODELS_PER_WINDOW });
  assert.ok(Buffer.byteLength(JSON.stringify(payload)) < 2048);
});
