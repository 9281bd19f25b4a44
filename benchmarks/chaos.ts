// The core under real load and trouble, in one run: triggered parts at 600 parts/min through a
// 12 MP burst, a worker thread killed, a camera restart, a broker restart and 20 hot swaps.
//
//   npm run bench:chaos -- [--parts 10000] [--rate 10] [--workers 2] [--trigger mqtt|http]
//
// The camera is an HTTP MJPEG stream this script serves (1280 x 1024 frames at 20 fps, 12 MP
// frames during the burst, cut for 3 s for the camera restart); the broker is Debian's
// Mosquitto with persistence; parts are announced on the MQTT trigger topic at QoS 1 (or by
// HTTP). Everything runs at the default 100 ms budget with 2 workers. Prints, per phase: parts
// sent, verdicts, duplicates, missing, timeouts, errors and latency percentiles; writes
// benchmarks/results/chaos.json.
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { App } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { percentile } from '../src/publish/console-summary.js';
import type { Verdict } from '../src/verdict.js';
import { bundledSamplesDir, packageRoot } from '../src/paths.js';
import { startMosquitto } from '../test/helpers/brokers.js';
import { makeVersion } from '../test/helpers/model-versions.js';

const { values } = parseArgs({
  options: {
    parts: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    trigger: { type: 'string', default: 'mqtt' },
  },
});
const total = Number(values.parts);
const rate = Number(values.rate);
const workers = Number(values.workers);
const token = 'chaos-benchmark-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Phases as fractions of the run; each event happens at its phase's start.
const phaseDefs = [
  { name: 'steady', at: 0 },
  { name: '12mp-burst', at: 0.1 },
  { name: 'after-burst', at: 0.12 },
  { name: 'worker-killed', at: 0.3 },
  { name: 'camera-restart', at: 0.4 },
  { name: 'broker-restart', at: 0.5 },
  { name: '20-swaps', at: 0.6 },
  { name: 'steady-end', at: 0.7 },
] as const;
type PhaseName = (typeof phaseDefs)[number]['name'];
const phaseOf = (i: number): PhaseName => [...phaseDefs].reverse().find((p) => i >= Math.floor(p.at * total))!.name;

const cleanups: Array<() => void | Promise<void>> = [];
const ctx = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'linesight-chaos-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const models = join(work, 'models');
  for (const v of ['1.0.0', '1.1.0']) makeVersion(models, v, (m) => (m.description = `release ${v}`));

  // Frames: real sample crops scaled to 1280 x 1024, and noisy 12 MP frames for the burst.
  const sample = readFileSync(join(bundledSamplesDir, 'label-orientation', '001-copy-centre-upright.jpg'));
  const normal = await sharp(sample).resize(1280, 1024, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
  const big = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 90 }).toBuffer();
  let frame = normal;
  let cameraUp = true;
  const clients = new Set<ServerResponse>();
  const camera = createServer((req, res) => {
    if (!cameraUp) return void res.destroy();
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=f' });
    clients.add(res);
    res.on('close', () => clients.delete(res));
  });
  await new Promise<void>((r) => camera.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => camera.close(() => r())));
  const camTimer = setInterval(() => {
    for (const res of clients) res.write(`--f\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.length}\r\n\r\n`), res.write(frame), res.write('\r\n');
  }, 50);
  cleanups.push(() => clearInterval(camTimer));
  const camPort = (camera.address() as { port: number }).port;

  const broker = await startMosquitto(ctx, { persistent: true });
  const config = buildConfig(
    {
      line: 'chaos',
      stations: [
        {
          id: 'cam1',
          source: { type: 'mjpeg', url: `http://127.0.0.1:${camPort}/video`, reconnect: { initialMs: 200, maxMs: 1000, stallMs: 1000 } },
          trigger: values.trigger === 'http' ? { type: 'http', toleranceMs: 60 } : { type: 'mqtt', toleranceMs: 60 },
          model: 'label-orientation',
        },
      ],
      models: { directory: models, watch: false, autoRollback: { parts: 0 } },
      state: { directory: join(work, 'state') },
      mqtt: { url: broker.url },
      api: { port: 0, token },
      inference: { workers },
      summary: { intervalMs: 0 },
      log: { level: 'error' },
    },
    { origin: 'bench', baseDir: '/' },
  );
  const app = new App(config, { log: createLogger({ level: 'error' }) });
  const decided = new Map<string, Verdict[]>();
  app.bus.on('verdict', (v) => decided.set(v.partId, [...(decided.get(v.partId) ?? []), v]));
  await app.start();
  cleanups.push(() => app.stop());

  // A PLC-like subscriber with a persistent session: what reaches the line over MQTT.
  const received = new Map<string, number>();
  const sub = mqtt.connect(broker.url, { clientId: 'chaos-plc', clean: false, reconnectPeriod: 200 });
  await new Promise<void>((r) => sub.once('connect', () => sub.subscribe('linesight/v1/chaos/cam1/verdict', { qos: 1 }, () => r())));
  sub.on('message', (_t, payload) => {
    const v = JSON.parse(payload.toString()) as Verdict;
    received.set(v.partId, (received.get(v.partId) ?? 0) + 1);
  });
  cleanups.push(() => sub.endAsync());
  const pub = mqtt.connect(broker.url, { clientId: 'chaos-trigger-source', clean: false, reconnectPeriod: 200 });
  await new Promise<void>((r) => pub.once('connect', () => r()));
  cleanups.push(() => pub.endAsync());

  const sentAt = new Map<string, PhaseName>();
  const events: string[] = [];
  const t0 = performance.now();
  let swaps = 0;
  let swapping: Promise<void> = Promise.resolve();
  const swapMs: number[] = [];
  for (let i = 0; i < total; i++) {
    const phase = phaseOf(i);
    if (i === Math.floor(0.1 * total)) frame = big;
    if (i === Math.floor(0.12 * total)) frame = normal;
    if (i === Math.floor(0.3 * total)) {
      const victim = app.pool.threads[0];
      events.push(`part ${i}: worker thread ${victim?.threadId} terminated`);
      void victim?.terminate();
    }
    if (i === Math.floor(0.4 * total)) {
      events.push(`part ${i}: camera stream cut for 3 s`);
      cameraUp = false;
      for (const c of clients) c.destroy();
      setTimeout(() => (cameraUp = true), 3000);
    }
    if (i === Math.floor(0.5 * total)) {
      events.push(`part ${i}: broker restarted`);
      void broker.stop().then(() => sleep(2000)).then(() => broker.restart());
      events[events.length - 1] += ' (down 2 s)';
    }
    if (phase === '20-swaps' && swaps < 20 && i % Math.max(1, Math.floor((0.1 * total) / 20)) === 0) {
      const n = ++swaps;
      // One swap after the other, as a deployment would do them.
      swapping = swapping.then(() => {
        const started = performance.now();
        return app.models.activate('cam1', `label-orientation@${n % 2 ? '1.1.0' : '1.0.0'}`).then(
          () => void swapMs.push(performance.now() - started),
          (err: Error) => void events.push(`swap ${n} failed: ${err.message}`),
        );
      });
    }
    const id = `p${i}`;
    sentAt.set(id, phase);
    if (values.trigger === 'http') {
      void fetch(`${app.apiUrl}/stations/cam1/trigger`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ partId: id }) }).catch(() => undefined);
    } else {
      pub.publish('linesight/v1/chaos/cam1/trigger', id, { qos: 1 });
    }
    if (i % 500 === 0) process.stderr.write(`\r${i}/${total} parts sent`);
    const due = t0 + ((i + 1) * 1000) / rate;
    await sleep(Math.max(0, due - performance.now()));
  }
  process.stderr.write(`\r${total}/${total} parts sent\n`);
  await swapping;
  // Let the last parts and any resends settle.
  for (let w = 0; w < 100 && (decided.size < total || received.size < decided.size); w++) await sleep(100);
  const rss = process.memoryUsage().rss;
  swapMs.sort((a, b) => a - b);
  events.push(`${swapMs.length} swaps completed; time per swap p50 ${percentile(swapMs, 50).toFixed(0)} ms, max ${(swapMs.at(-1) ?? NaN).toFixed(0)} ms`);

  const rows = phaseDefs.map(({ name }) => {
    const ids = [...sentAt].filter(([, p]) => p === name).map(([id]) => id);
    const vs = ids.flatMap((id) => decided.get(id) ?? []);
    const lat = vs.filter((v) => v.verdict !== 'timeout').map((v) => v.timings.totalMs).sort((a, b) => a - b);
    const all = vs.map((v) => v.timings.totalMs).sort((a, b) => a - b);
    return {
      phase: name,
      sent: ids.length,
      verdicts: vs.length,
      duplicates: ids.filter((id) => (decided.get(id)?.length ?? 0) > 1).length,
      missing: ids.filter((id) => !decided.has(id)).length,
      deliveredOverMqtt: ids.filter((id) => received.has(id)).length,
      timeouts: vs.filter((v) => v.verdict === 'timeout').length,
      errors: vs.filter((v) => v.verdict === 'error').length,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      p999: percentile(all, 99.9),
      decidedP99: percentile(lat, 99),
    };
  });
  const sum = (k: 'sent' | 'verdicts' | 'duplicates' | 'missing' | 'deliveredOverMqtt' | 'timeouts' | 'errors') => rows.reduce((n, r) => n + r[k], 0);
  console.log(`\nchaos: ${total} triggered parts at ${rate * 60} parts/min, ${workers} workers, default 100 ms budget, trigger ${values.trigger}`);
  for (const e of events) console.log(`  ${e}`);
  console.log('phase            sent  verdicts  dup  missing  mqtt   timeouts  errors   p50    p99  p99.9 (ms)');
  for (const r of rows) {
    console.log(
      `${r.phase.padEnd(16)}${String(r.sent).padStart(5)}${String(r.verdicts).padStart(10)}${String(r.duplicates).padStart(5)}${String(r.missing).padStart(9)}${String(r.deliveredOverMqtt).padStart(6)}${String(r.timeouts).padStart(11)}${String(r.errors).padStart(8)}${r.p50.toFixed(1).padStart(7)}${r.p99.toFixed(1).padStart(7)}${r.p999.toFixed(1).padStart(7)}`,
    );
  }
  console.log(`total: sent ${sum('sent')}, verdicts ${sum('verdicts')}, duplicates ${sum('duplicates')}, missing ${sum('missing')}, delivered over MQTT ${sum('deliveredOverMqtt')}, timeouts ${sum('timeouts')}, errors ${sum('errors')}; pool ${JSON.stringify(app.pool.stats)}; RSS ${(rss / 2 ** 20).toFixed(0)} MiB`);
  const out = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'chaos.json'),
    JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, parts: total, rate, workers, trigger: values.trigger, events, phases: rows, pool: app.pool.stats, rssMiB: Math.round(rss / 2 ** 20) }, null, 2) + '\n',
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  });
