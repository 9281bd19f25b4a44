// The load generator: the real service (a forked process running App: replay camera, station,
// pool, local MQTT publisher, embedded broker) fed at one target rate, measured from the frame's
// capture to its verdict arriving at this process's subscriber on the local broker, as a PLC or
// MES client would receive it.
//
// The station is free-run: every frame is a part, so the capture is the trigger. Capture times
// come from the verdict (wall clock, whole ms), received times from this process's wall clock:
// both read the same system clock at the moment they stamp, so the latency is good to about 1 ms.
// (Not performance.timeOrigin + performance.now(): that is the wall clock at this process's start
// carried on by the monotonic clock, and it drifts from the service's Date.now() while NTP slews
// the system clock; the likely cause of one probe run that read a steady 35 ms more between the
// verdict and the subscriber, never seen again.) Frames shed under overload leave gaps in the
// verdicts' sequence numbers, and are counted from those.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { topics } from '../publish/topics.js';
import type { Verdict } from '../verdict.js';
import { ResourceWindow } from './resources.js';
import type { Step } from './result.js';
import { benchCamera, benchLine, type LoadPoint } from './service-config.js';
import { summarize } from './stats.js';

export type { LoadPoint };

/** A held step: every part decided by a worker, in budget, at the rate asked for. */
const minShareOfTarget = 0.95;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = () => Date.now();
const serviceEntry = new URL('./service-process.js', import.meta.url);

export interface StepOutcome {
  step: Step;
  /** The provider the workers actually loaded (a missing GPU provider falls back). */
  provider: string;
  /** RSS at its steady level (MiB): the median of the window's second half. */
  rssSteadyMiB: number;
  /** CPU time the service used in the window (unrounded, unlike step.cpu). */
  cpuSeconds: number;
}

export interface LoadOptions {
  /** Added to the service's environment (the memory bench's allocator settings). */
  env?: Record<string, string>;
  /** Called with the service's pid at the end of the measured window, while it still runs. */
  atWindowEnd?: (pid: number) => void;
}

type Ready = { ready: true; mqttUrl: string; provider: string } | { ready: false; error: string };

export async function runLoadPoint(p: LoadPoint, o: LoadOptions = {}): Promise<StepOutcome> {
  const state = mkdtempSync(join(tmpdir(), 'linesight-bench-'));
  // The service as it ships: its launchers give V8 a 2 MB young generation (README "Memory").
  const child = fork(serviceEntry, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--max-semi-space-size=2'], env: { ...process.env, ...o.env } });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let client: mqtt.MqttClient | undefined;
  let resources: ResourceWindow | undefined;
  try {
    const ready = await new Promise<Ready>((resolve, reject) => {
      child.once('message', (m: Ready) => resolve(m));
      child.once('exit', (code) => reject(new Error(`the service under test exited (${code}) before it was ready: ${stderr.trim()}`)));
      child.send({ point: p, stateDir: state });
    });
    if (!ready.ready) throw new Error(`the service under test did not start: ${ready.error}`);
    const received: Array<{ at: number; v: Verdict }> = [];
    client = await mqtt.connectAsync(ready.mqttUrl, { clientId: `linesight-bench-${process.pid}` });
    client.on('message', (_t, payload) => received.push({ at: wallNow(), v: JSON.parse(payload.toString('utf8')) as Verdict }));
    await client.subscribeAsync(topics.verdict('linesight/v1', benchLine, benchCamera), { qos: 1 });
    resources = new ResourceWindow(child.pid!);
    await sleep(p.warmupSeconds * 1000);
    const start = wallNow();
    const end = start + p.seconds * 1000;
    resources.reset();
    await sleep(p.seconds * 1000);
    o.atWindowEnd?.(child.pid!);
    const used = resources.end();
    // Parts captured in the window may still be in flight: give them the budget and some slack.
    await sleep(Math.min(2000, p.budgetMs * 2 + 200));
    const inWindow = received.filter((r) => r.v.capturedAt !== null && Date.parse(r.v.capturedAt) >= start && Date.parse(r.v.capturedAt) < end);
    const latency = inWindow.map((r) => r.at - Date.parse(r.v.capturedAt!));
    const kinds = (k: string) => inWindow.filter((r) => r.v.verdict === k).length;
    const timeouts = kinds('timeout');
    const errors = kinds('error');
    const seqs = inWindow.map((r) => r.v.seq);
    const shed = seqs.length ? Math.max(...seqs) - Math.min(...seqs) + 1 - new Set(seqs).size : 0;
    const stage = (pick: (v: Verdict) => number | null) => summarize(inWindow.map((r) => pick(r.v)).filter((x): x is number => x !== null));
    const pre = stage((v) => v.timings.preprocessMs);
    const inf = stage((v) => v.timings.inferenceMs);
    const lat = summarize(latency);
    // Throughput counts every part a worker ran to the end, a late one too (its verdict is a
    // timeout, its result only logged): with a model slower than the budget on this box that is
    // still the capacity, and `held` says the budget was missed.
    const ran = inWindow.filter((r) => r.v.timings.inferenceMs !== null && r.v.verdict !== 'error').length;
    const achievedPerSec = Math.round((ran / p.seconds) * 10) / 10;
    const held = timeouts === 0 && errors === 0 && shed === 0 && lat.count > 0 && lat.p999 <= p.budgetMs && achievedPerSec >= p.ratePerSec * minShareOfTarget;
    return {
      provider: ready.provider,
      rssSteadyMiB: used.rssSteadyMiB,
      cpuSeconds: used.cpuSeconds,
      step: {
        targetPerSec: Math.round(p.ratePerSec * 10) / 10,
        achievedPerSec,
        parts: lat.count,
        latencyMs: lat,
        preprocessMs: { p50: pre.p50, p99: pre.p99 },
        inferenceMs: { p50: inf.p50, p99: inf.p99 },
        timeouts,
        errors,
        shed,
        cpu: used.cpu,
        rssMiB: used.rssMiB,
        held,
      },
    };
  } finally {
    resources?.end();
    await client?.endAsync(true).catch(() => undefined);
    if (child.connected) child.send({ stop: true });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    rmSync(state, { recursive: true, force: true });
  }
}
