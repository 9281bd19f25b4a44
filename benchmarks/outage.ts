// Memory through a local broker outage: RSS and heap per simulated hour of verdicts at 10 parts/s
// per camera while the broker is unreachable, for Linesight's publisher (bounded queue, passes
// dropped first) against the baseline it replaced, a plain mqtt.js client publishing QoS 1 (its
// offline store keeps every message in memory).
//
//   npm run bench:outage -- [--hours 4] [--rate 10] [--cameras 1]
//
// Each side runs in its own child process, so one's garbage is not the other's RSS. Hours are
// simulated: a hour's verdicts are published as fast as the client takes them. Writes
// benchmarks/results/outage.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { EventBus } from '../src/events.js';
import { silentLogger } from '../src/log.js';
import { packageRoot } from '../src/paths.js';
import { LocalMqttPublisher } from '../src/publish/local-mqtt.js';
import type { Verdict } from '../src/verdict.js';

const { values } = parseArgs({
  options: {
    hours: { type: 'string', default: '4' },
    rate: { type: 'string', default: '10' },
    cameras: { type: 'string', default: '1' },
    side: { type: 'string' },
  },
});
const hours = Number(values.hours);
const perHour = Number(values.rate) * 3600;
const cameras = Array.from({ length: Number(values.cameras) }, (_, i) => `cam${i + 1}`);

function verdict(camera: string, seq: number): Verdict {
  const kind = seq % 10 === 0 ? 'fail' : 'pass';
  return {
    id: `run-${camera}-${seq}`, line: 'L1', camera, partId: `SN-${seq}`, seq, verdict: kind, action: kind === 'pass' ? 'accept' : 'reject',
    label: kind === 'pass' ? 'upright' : 'rot180', score: 0.97, scores: { upright: 0.97, rot180: 0.03 }, model: { name: 'label-orientation', version: '1.0.0' },
    budgetMs: 100, deadlineMet: true, timings: { queueMs: 1.2, preprocessMs: 3.4, inferenceMs: 5.6, totalMs: 11.1 },
    capturedAt: new Date(1_767_225_600_000 + seq * 100).toISOString(), captureTimeSource: 'arrival', decidedAt: new Date(1_767_225_600_011 + seq * 100).toISOString(),
  };
}

/** A loopback port with nothing listening: the broker is down for the whole run. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function memory(): { rssMiB: number; heapMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  const m = process.memoryUsage();
  return { rssMiB: Math.round((m.rss / 1048576) * 10) / 10, heapMiB: Math.round((m.heapUsed / 1048576) * 10) / 10 };
}

/** One side, in this process: prints its per-hour memory as JSON on stdout. */
async function runSide(side: 'linesight' | 'mqttjs'): Promise<void> {
  const url = `mqtt://127.0.0.1:${await deadPort()}`;
  let publish: (v: Verdict) => void;
  let close: () => Promise<void>;
  let dropped = () => 0;
  if (side === 'linesight') {
    const p = new LocalMqttPublisher({ url, line: 'L1', cameras, topicPrefix: 'linesight/v1', clientIdPrefix: 'bench', bus: new EventBus(silentLogger), log: silentLogger, connectWaitMs: 0 });
    await p.start();
    publish = (v) => p.publish(v);
    close = () => p.stop(0);
    dropped = () => p.queues().reduce((n, q) => n + Object.values(q.dropped).reduce((a, b) => a + b, 0), 0);
  } else {
    // What the publisher did before: one mqtt.js client per camera, QoS 1, default (in-memory) store.
    const clients = new Map(cameras.map((c) => [c, mqtt.connect(url, { reconnectPeriod: 1000 })]));
    for (const c of clients.values()) c.on('error', () => {});
    let refused = 0;
    publish = (v) =>
      clients.get(v.camera)!.publish(`linesight/v1/L1/${v.camera}/verdict`, JSON.stringify(v), { qos: 1 }, (err) => {
        if (err) refused++;
      });
    // mqtt.js's default message ids wrap after 65,535 and its store is keyed by id: past that,
    // each new offline message silently replaces an older one (heap stops growing, nothing fails).
    dropped = () => refused;
    close = async () => {
      for (const c of clients.values()) c.end(true);
    };
  }
  const rows = [{ hour: 0, ...memory(), dropped: 0 }];
  let seq = 0;
  for (let h = 1; h <= hours; h++) {
    for (let i = 0; i < perHour; i++) {
      seq++;
      for (const camera of cameras) publish(verdict(camera, seq));
      // Let the client's timers and socket attempts run, as they would between real parts.
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    rows.push({ hour: h, ...memory(), dropped: dropped() });
  }
  await close();
  process.stdout.write(JSON.stringify(rows));
}

async function main(): Promise<void> {
  if (values.side) return runSide(values.side as 'linesight' | 'mqttjs');
  const self = fileURLToPath(import.meta.url);
  const side = (name: string) =>
    JSON.parse(execFileSync(process.execPath, ['--expose-gc', self, '--side', name, '--hours', String(hours), '--rate', values.rate!, '--cameras', values.cameras!], { encoding: 'utf8', maxBuffer: 1 << 20 })) as Array<{ hour: number; rssMiB: number; heapMiB: number; dropped: number }>;
  console.log(`Broker outage, ${cameras.length} camera(s) at ${values.rate} parts/s, ${hours} simulated hours (${perHour} verdicts per camera per hour)`);
  const ours = side('linesight');
  const base = side('mqttjs');
  const growth = (rows: typeof ours, key: 'rssMiB' | 'heapMiB', from: number) => (rows.at(-1)![key] - rows[from]![key]) / (rows.length - 1 - from);
  console.log('hour | Linesight RSS / heap MiB (dropped, counted) | mqtt.js RSS / heap MiB (publishes failed)');
  for (let i = 0; i < ours.length; i++) console.log(`${ours[i]!.hour} | ${ours[i]!.rssMiB} / ${ours[i]!.heapMiB} (${ours[i]!.dropped}) | ${base[i]!.rssMiB} / ${base[i]!.heapMiB} (${base[i]!.dropped})`);
  // Linesight's queue fills during hour 1 (15 minutes of verdicts); from then on growth must be flat.
  const result = {
    host: { hostname: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    cameras: cameras.length,
    ratePerSec: Number(values.rate),
    hours,
    linesight: ours,
    mqttjs: base,
    growthPerHourAfterFirst: {
      linesight: { rssMiB: growth(ours, 'rssMiB', 1), heapMiB: growth(ours, 'heapMiB', 1) },
      mqttjs: { rssMiB: growth(base, 'rssMiB', 1), heapMiB: growth(base, 'heapMiB', 1) },
    },
  };
  const g = result.growthPerHourAfterFirst;
  console.log(`growth per hour after the first: Linesight RSS ${g.linesight.rssMiB.toFixed(1)} MiB, heap ${g.linesight.heapMiB.toFixed(1)} MiB; mqtt.js RSS ${g.mqttjs.rssMiB.toFixed(1)} MiB, heap ${g.mqttjs.heapMiB.toFixed(1)} MiB`);
  console.log(`heap after ${hours} h: Linesight / mqtt.js = ${(ours.at(-1)!.heapMiB / base.at(-1)!.heapMiB).toFixed(3)}x`);
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'outage.json'), JSON.stringify(result, null, 2) + '\n');
}

await main();
