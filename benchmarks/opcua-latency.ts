// What the OPC UA server costs and adds: a station at 600 parts/min (the bundled model, 2 workers,
// the 100 ms budget), the embedded MQTT broker with a subscriber, and the OPC UA server, in phases
// of one run:
//   off:      no OPC UA client (the baseline for CPU and RSS);
//   1@<ms>:   one SignAndEncrypt client subscribed to a station, at each publishing interval;
//   20@<ms>:  twenty clients at the chosen interval.
// Latency is decision (the verdict's decidedAt) to arrival at the subscriber, for OPC UA (client 0)
// and MQTT in the same phase. The clients run in a child process, so CPU and RSS are the server's.
//
//   npm run bench:opcua -- [--phase-seconds 20] [--intervals 20,50,100] [--interval 50]
//
// Writes benchmarks/results/opcua-latency.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { App } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { bundledSamplesDir, packageRoot } from '../src/paths.js';
import { hashPassword } from '../src/publish/password-hash.js';
import type { Verdict } from '../src/verdict.js';
import { makeClient } from '../test/helpers/opcua-client.js';

const { values } = parseArgs({ options: { 'phase-seconds': { type: 'string', default: '20' }, intervals: { type: 'string', default: '20,50,100' }, interval: { type: 'string', default: '50' } } });
const phaseMs = Number(values['phase-seconds']) * 1000;
const intervals = values.intervals.split(',').map(Number);
const chosen = Number(values.interval);
const cleanups: Array<() => void | Promise<void>> = [];
const ctx = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) } as never;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : Number.NaN;
};

const dir = mkdtempSync(join(tmpdir(), 'linesight-bench-opcua-'));
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
const line = 'B1';
const config = buildConfig(
  {
    line,
    stations: [{ id: 'cam1', source: { type: 'replay', path: join(bundledSamplesDir, 'label-orientation'), ratePerSec: 10, loop: true }, model: 'label-orientation' }],
    inference: { workers: 2 },
    state: { directory: dir },
    mqtt: { embedded: { port: 0 } },
    api: { enabled: false },
    summary: { intervalMs: 0 },
    opcua: { enabled: true, port: 0, users: [{ username: 'plc', password: await hashPassword('plc-secret', { N: 1024 }), rights: [] }] },
  },
  { origin: 'bench', baseDir: '/' },
);
const app = new App(config, { log: silentLogger });
const verdicts: Verdict[] = [];
app.bus.on('verdict', (v) => verdicts.push(v));
await app.start();
cleanups.push(() => app.stop());

const mqttArrivals: Array<{ partId: string; latency: number }> = [];
const sub = await mqtt.connectAsync(app.mqttUrl, { clean: true });
sub.on('message', (_t, payload) => {
  const v = JSON.parse(payload.toString()) as Verdict;
  mqttArrivals.push({ partId: v.partId, latency: Date.now() - Date.parse(v.decidedAt) });
});
await sub.subscribeAsync(`linesight/v1/${line}/cam1/verdict`, { qos: 1 });
cleanups.push(() => sub.endAsync(true));

const pki = join(dir, 'client-pki');
await makeClient(ctx, { endpoint: app.opcua!.endpointUrl, trustIn: app.opcua!.pkiDirectory, pki });

async function phase(name: string, clients: number, intervalMs: number) {
  let child: ReturnType<typeof spawn> | undefined;
  const opcua: number[] = [];
  if (clients > 0) {
    child = spawn(process.execPath, [join(import.meta.dirname, '..', 'test', 'helpers', 'opcua-clients-child.js'), app.opcua!.endpointUrl, pki, 'plc', 'plc-secret', `ns=1;s=${line}.cam1`, String(clients), String(intervalMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        if (l === 'ready') ready();
        const [, decided, received] = l.split(' ');
        if (received) opcua.push(Number(received) - Number(decided));
      }
    });
    await isReady;
    opcua.length = 0;
  }
  await sleep(1000);
  const m0 = mqttArrivals.length;
  const v0 = verdicts.length;
  opcua.length = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 500);
  await sleep(phaseMs);
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const vs = verdicts.slice(v0);
  const mq = mqttArrivals.slice(m0).map((a) => a.latency);
  const result = {
    phase: name, clients, publishingIntervalMs: clients ? intervalMs : null, parts: vs.length,
    deadlineMisses: vs.filter((v) => !v.deadlineMet).length, timeouts: vs.filter((v) => v.verdict === 'timeout' || v.verdict === 'error').length,
    verdictP50Ms: r1(pct(vs.map((v) => v.timings.totalMs), 50)), verdictP99Ms: r1(pct(vs.map((v) => v.timings.totalMs), 99)),
    mqttP50Ms: pct(mq, 50), mqttP99Ms: pct(mq, 99),
    opcuaNotifications: opcua.length, opcuaP50Ms: clients ? pct(opcua, 50) : null, opcuaP99Ms: clients ? pct(opcua, 99) : null,
    serverCpuPercent: r1(((cpu.user + cpu.system) / 1000 / wall) * 100), serverRssMB: r1(Math.max(...rss) / 1024 / 1024),
  };
  child?.kill('SIGKILL');
  await sleep(500);
  console.log(JSON.stringify(result));
  return result;
}

const phases = [await phase('off', 0, 0)];
for (const i of intervals) phases.push(await phase(`1@${i}`, 1, i));
phases.push(await phase(`20@${chosen}`, 20, chosen));
const base = phases[0]!;
const ratios = phases.slice(1).map((p) => ({
  phase: p.phase,
  cpuVsOff: r1(p.serverCpuPercent / base.serverCpuPercent),
  rssVsOffMB: r1(p.serverRssMB - base.serverRssMB),
  verdictP99VsOff: r1(p.verdictP99Ms / base.verdictP99Ms),
  opcuaP50VsMqttP50: p.opcuaP50Ms !== null && p.mqttP50Ms > 0 ? r1(p.opcuaP50Ms / p.mqttP50Ms) : null,
}));
console.table(phases);
console.table(ratios);
const out = join(packageRoot, 'benchmarks', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'opcua-latency.json'), JSON.stringify({ host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, phaseSeconds: phaseMs / 1000, partsPerMinute: 600, phases, ratios }, null, 2) + '\n');
for (const c of cleanups.reverse()) await c();
process.exit(0);
