// Does the cloud ever show in verdict latency? A station at 600 parts/min with 2 % fails, 2
// workers, the 100 ms budget, the cloud enabled (Mosquitto over mutual TLS, SQLite outbox in the
// chosen synchronous mode, default background), in three phases of the same run:
//   up:      the cloud broker reachable (the baseline);
//   down:    the cloud broker stopped (fails pile up in the outbox);
//   drain:   an hour's backlog at this rate (the default selection: fails and a summary a minute)
//            is in the outbox and the broker comes back: how long the drain takes, and the
//            latency while it runs. With --passes, every pass is sent too (the heaviest selection:
//            36,000 passes an hour at this rate, drained at the 100/s limit).
//
//   npm run bench:cloud-latency -- [--phase-seconds 30] [--backlog-minutes 60] [--passes] [--synchronous background|full|normal]
//
// Writes benchmarks/results/cloud-latency.json.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { App } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { bundledSamplesDir, packageRoot } from '../src/paths.js';
import { percentile } from '../src/publish/console-summary.js';
import type { Verdict } from '../src/verdict.js';
import { makeCerts, startMosquitto } from '../test/helpers/brokers.js';

const { values } = parseArgs({
  options: { 'phase-seconds': { type: 'string', default: '30' }, 'backlog-minutes': { type: 'string', default: '60' }, passes: { type: 'boolean', default: false }, synchronous: { type: 'string', default: 'background' } },
});
const synchronous = values.synchronous as 'background' | 'full' | 'normal';
const withPasses = values.passes;
const phaseMs = Number(values['phase-seconds']) * 1000;
const backlogMinutes = Number(values['backlog-minutes']);
const cleanups: Array<() => void | Promise<void>> = [];
const ctx = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 49 upright parts and one upside down: 2 % fails at any rate. */
function twoPercentFails(dir: string): string {
  const parts = join(dir, 'parts');
  mkdirSync(parts);
  const upright = readdirSync(join(bundledSamplesDir, 'label-orientation')).filter((n) => n.includes('upright'));
  const rotated = readdirSync(join(bundledSamplesDir, 'label-orientation')).find((n) => n.includes('rot180'))!;
  for (let i = 0; i < 49; i++) copyFileSync(join(bundledSamplesDir, 'label-orientation', upright[i % upright.length]!), join(parts, `${String(i).padStart(3, '0')}.jpg`));
  copyFileSync(join(bundledSamplesDir, 'label-orientation', rotated), join(parts, '049.jpg'));
  return parts;
}

function stats(vs: Verdict[]) {
  const lat = vs.map((v) => v.timings.totalMs).sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { parts: vs.length, fails: vs.filter((v) => v.verdict === 'fail').length, missed: vs.filter((v) => !v.deadlineMet).length, p50: r(percentile(lat, 50)), p99: r(percentile(lat, 99)), max: r(lat.at(-1) ?? 0) };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'linesight-cloud-latency-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));
  const certs = makeCerts(ctx);
  const cloud = await startMosquitto(ctx, { tls: certs });
  const config = buildConfig(
    {
      line: 'bench',
      stations: [{ id: 'cam1', source: { type: 'replay', path: twoPercentFails(work), ratePerSec: 10 }, model: 'label-orientation' }],
      models: { watch: false },
      state: { directory: join(work, 'state') },
      mqtt: { embedded: { port: 0 } },
      api: { enabled: false },
      inference: { workers: 2 },
      summary: { intervalMs: 0 },
      cloud: {
        enabled: true,
        url: cloud.tlsUrl,
        thingName: 'bench-box',
        tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
        reconnect: { initialMs: 200, maxMs: 1000 },
        send: { passes: withPasses },
        outbox: { synchronous },
      },
    },
    { origin: 'bench', baseDir: '/' },
  );
  const app = new App(config, { log: silentLogger });
  let phase = 'warm-up';
  const byPhase: Record<string, Verdict[]> = {};
  app.bus.on('verdict', (v) => (byPhase[phase] ??= []).push(v));
  await app.start();
  cleanups.unshift(() => app.stop());
  const outbox = app.cloud!.outbox;
  await sleep(3000);

  phase = 'up';
  await sleep(phaseMs);
  phase = 'down';
  await cloud.stop();
  await sleep(phaseMs);

  // Filling the outbox is the benchmark's own work on the event loop, not the service's: the
  // parts inspected meanwhile are not counted in any phase.
  phase = 'filling';
  // An hour's backlog of the default selection at this rate: 2 % fails and a summary a minute,
  // shaped like the real messages (the fails already in the outbox show the size).
  const sample = outbox.next(1)[0];
  if (sample) outbox.failed(sample.id, 'bench: peeked');
  const failBytes = sample?.payload.length ?? 900;
  const fails = Math.round(backlogMinutes * 600 * 0.02);
  for (let i = 0; i < fails; i++) outbox.add({ id: `backlog-fail-${i}`, station: 'cam1', class: 'fail', topic: 'linesight/v1/bench/cam1/verdict/fail', payload: Buffer.alloc(failBytes, 0x20) });
  for (let i = 0; i < backlogMinutes; i++) outbox.add({ id: `backlog-summary-${i}`, station: 'cam1', class: 'summary', topic: 'linesight/v1/bench/cam1/summary', payload: Buffer.alloc(700, 0x20) });
  if (withPasses) {
    const passes = backlogMinutes * 600 - fails;
    for (let i = 0; i < passes; i++) {
      outbox.add({ id: `backlog-pass-${i}`, station: 'cam1', class: 'pass', topic: 'linesight/v1/bench/cam1/verdict/pass', payload: Buffer.alloc(failBytes, 0x20) });
      if (i % 100 === 99) await sleep(1);
    }
  }
  const backlog = outbox.stats().depth;

  phase = 'drain';
  const drainStart = performance.now();
  await cloud.restart();
  app.cloud!.notify();
  while (outbox.stats().depth > 0 && performance.now() - drainStart < 15 * 60_000) await sleep(50);
  const drainMs = performance.now() - drainStart;
  phase = 'after';
  await sleep(1000);

  const up = stats(byPhase.up ?? []);
  const down = stats(byPhase.down ?? []);
  const drain = stats(byPhase.drain ?? []);
  const result = {
    host: { hostname: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    rate: `600 parts/min, 2 % fails, 2 workers, 100 ms budget, outbox synchronous ${synchronous}${withPasses ? ', passes sent too' : ''}`,
    phaseSeconds: phaseMs / 1000,
    up,
    down,
    drain: { ...drain, backlogMessages: backlog, backlogMinutes, drainSeconds: Math.round(drainMs / 100) / 10 },
    ratios: { p99DownOverUp: Math.round((down.p99 / up.p99) * 100) / 100, p99DrainOverUp: Math.round((drain.p99 / up.p99) * 100) / 100 },
  };
  console.log(`cloud up:    ${up.parts} parts (${up.fails} fails), p50 ${up.p50} ms, p99 ${up.p99} ms, max ${up.max} ms, ${up.missed} missed`);
  console.log(`cloud down:  ${down.parts} parts (${down.fails} fails), p50 ${down.p50} ms, p99 ${down.p99} ms, max ${down.max} ms, ${down.missed} missed; p99 ${result.ratios.p99DownOverUp}x of up`);
  console.log(`drain:       ${backlog} messages (${backlogMinutes} min of backlog) sent in ${result.drain.drainSeconds} s; meanwhile ${drain.parts} parts, p99 ${drain.p99} ms (${result.ratios.p99DrainOverUp}x of up), ${drain.missed} missed`);
  const dir = join(packageRoot, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `cloud-latency${withPasses ? '-passes' : ''}${synchronous === 'background' ? '' : `-${synchronous}`}.json`), JSON.stringify(result, null, 2) + '\n');
}

try {
  await main();
} finally {
  for (const c of cleanups) await c();
}
