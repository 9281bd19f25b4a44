// What the cloud gets against what it would get if every verdict went up: at 600 parts/min
// with 2 % fails over 10 simulated minutes, the messages and bytes (payload + topic) CloudFeed
// adds to the outbox with the default selection (every fail, a summary a minute, events),
// against one message per verdict with the local verdict payload. Goal: at most 5 %.
// Also the feed's cost per verdict on the bus (it runs on the pipeline's thread).
//
//   npm run bench:cloud-volume -- [--minutes 10] [--rate 600] [--fails 0.02]
//
// Time is simulated with a fake clock (summaries fire at their minute boundaries); writes
// benchmarks/results/cloud-volume.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { CloudSendConfig } from '../src/config/schema.js';
import { EventBus } from '../src/events.js';
import { silentLogger } from '../src/log.js';
import { packageRoot } from '../src/paths.js';
import { CloudFeed } from '../src/publish/cloud-feed.js';
import { MemoryOutbox } from '../src/publish/outbox-memory.js';
import { topics } from '../src/publish/topics.js';
import type { Verdict } from '../src/verdict.js';
import { FakeClock } from '../test/helpers/fake-clock.js';
import { makeVerdict } from '../test/helpers/verdict-factory.js';
import { seededRandom } from '../test/helpers/seeded-random.js';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, rate: { type: 'string', default: '600' }, fails: { type: 'string', default: '0.02' } } });
const minutes = Number(args.minutes);
const perMinute = Number(args.rate);
const failShare = Number(args.fails);

const random = seededRandom;

function run(selection: Partial<CloudSendConfig>, verdicts: (emit: (v: Verdict) => void, clock: FakeClock, bus: EventBus) => void) {
  const clock = new FakeClock(1_000, Date.UTC(2026, 0, 1, 6, 0, 0));
  const bus = new EventBus(silentLogger);
  const outbox = new MemoryOutbox({ clock });
  const send = { ...(Value.Default(CloudSendConfig, {}) as CloudSendConfig), ...selection };
  const feed = new CloudFeed({ line: 'hall-2', stations: [{ id: 'cam-a' }], send, outbox, bus, clock, log: silentLogger });
  feed.start();
  let baseline = { messages: 0, bytes: 0 };
  const prefix = 'linesight/v1';
  verdicts((v) => {
    // The baseline: every verdict up, as the local publisher sends it.
    baseline.messages++;
    baseline.bytes += Buffer.byteLength(JSON.stringify(v)) + Buffer.byteLength(topics.verdict(prefix, v.line, v.camera));
    bus.emit('verdict', v);
  }, clock, bus);
  feed.stop();
  const messages = outbox.next(Number.MAX_SAFE_INTEGER);
  const byClass: Record<string, { messages: number; bytes: number }> = {};
  let bytes = 0;
  for (const m of messages) {
    const b = m.payload.length + Buffer.byteLength(m.topic);
    bytes += b;
    const c = (byClass[m.class] ??= { messages: 0, bytes: 0 });
    c.messages++;
    c.bytes += b;
  }
  return { baseline, cloud: { messages: messages.length, bytes, byClass }, ratio: { messages: messages.length / baseline.messages, bytes: bytes / baseline.bytes } };
}

const intervalMs = 60_000 / perMinute;
const parts = Math.round(minutes * perMinute);
const line = (emit: (v: Verdict) => void, clock: FakeClock, bus: EventBus) => {
  const rnd = random(10);
  for (let i = 0; i < parts; i++) {
    const fail = rnd() < failShare;
    const totalMs = 8 + rnd() * 6 + (rnd() < 0.002 ? 95 : 0);
    emit(makeVerdict({ seq: i, line: 'hall-2', camera: 'cam-a', kind: fail ? 'fail' : 'pass', totalMs, decidedAtMs: clock.wallNow() }));
    // One model update half way, as a line gets now and then.
    if (i === Math.floor(parts / 2)) bus.emit('model-changed', { camera: 'cam-a', from: 'label-orientation@1.0.0', to: 'label-orientation@1.1.0', reason: 'new version' });
    clock.advance(intervalMs);
  }
};

const defaults = run({}, line);
const withPasses = run({ passes: true }, line);

// The feed's own cost per verdict on the bus (summary bookkeeping; one JSON per selected part).
function feedCostUs(count: number): number {
  const clock = new FakeClock(1_000, Date.UTC(2026, 0, 1, 6, 0, 0));
  const rnd = random(11);
  const vs = Array.from({ length: 1000 }, (_, i) => makeVerdict({ seq: i, line: 'hall-2', camera: 'cam-a', kind: rnd() < failShare ? 'fail' : 'pass', totalMs: 8 + rnd() * 6, decidedAtMs: clock.wallNow() }));
  const bus = new EventBus(silentLogger);
  const feed = new CloudFeed({ line: 'hall-2', stations: [{ id: 'cam-a' }], send: Value.Default(CloudSendConfig, {}) as CloudSendConfig, outbox: new MemoryOutbox({ clock }), bus, clock, log: silentLogger });
  feed.start();
  for (let i = 0; i < 20_000; i++) bus.emit('verdict', vs[i % vs.length]!); // warm up
  const t0 = performance.now();
  for (let i = 0; i < count; i++) bus.emit('verdict', vs[i % vs.length]!);
  const us = ((performance.now() - t0) * 1000) / count;
  feed.stop();
  return us;
}

const result = {
  benchmark: 'cloud-volume',
  host: { name: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  setup: { minutes, partsPerMinute: perMinute, failShare, parts, stations: 1, summaryEverySeconds: 60, modelChanges: 1 },
  defaults,
  withPasses,
  feedCostPerVerdictUs: Math.round(feedCostUs(200_000) * 100) / 100,
  goal: 'cloud messages and bytes at most 5 % of publishing every verdict',
  met: defaults.ratio.messages <= 0.05 && defaults.ratio.bytes <= 0.05,
};
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
console.log(`${parts} parts in ${minutes} simulated minutes, ${pct(failShare)} fails, 1 station`);
console.log(`every verdict up: ${defaults.baseline.messages} messages, ${defaults.baseline.bytes} bytes`);
console.log(`default selection: ${defaults.cloud.messages} messages (${pct(defaults.ratio.messages)}), ${defaults.cloud.bytes} bytes (${pct(defaults.ratio.bytes)}) ${JSON.stringify(defaults.cloud.byClass)}`);
console.log(`with passes:       ${withPasses.cloud.messages} messages (${pct(withPasses.ratio.messages)}), ${withPasses.cloud.bytes} bytes (${pct(withPasses.ratio.bytes)})`);
console.log(`feed cost per verdict on the bus: ${result.feedCostPerVerdictUs} µs; goal met: ${result.met}`);
const dir = join(packageRoot, 'benchmarks', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'cloud-volume.json'), JSON.stringify(result, null, 2) + '\n');
