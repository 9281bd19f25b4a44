// Prometheus metrics, fed from the event bus so no pipeline code knows about prom-client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventBus } from '../events.js';
import type { Verdict } from '../inference/verdict.js';

export interface MetricsSources {
  pool: () => { workers: number; running: number; queued: number; crashed: number; expired: number };
  publishers: () => Array<{ name: string; connected: boolean; pending: number }>;
  models: () => Array<{ camera: string; name: string; version: string; provider: string }>;
  cameras: () => Array<{ camera: string; state: string; fps: number; reconnects: number; framesEmitted: number }>;
}

const cameraStates = ['idle', 'connecting', 'streaming', 'stalled', 'failed', 'ended', 'stopped'] as const;

const latencyBuckets = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];

export function createMetrics(bus: EventBus, sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'linesight_process_' });

  const parts = new Counter({
    name: 'linesight_parts_total',
    help: 'Parts inspected, by verdict (pass, fail, uncertain, timeout, error).',
    labelNames: ['line', 'camera', 'verdict', 'action'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'linesight_part_latency_seconds',
    help: 'Capture to verdict, per part.',
    labelNames: ['line', 'camera'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const stage = new Histogram({
    name: 'linesight_stage_seconds',
    help: 'Time per pipeline stage: queue (capture to worker start), preprocess, inference.',
    labelNames: ['camera', 'stage'] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const deadlineMissed = new Counter({
    name: 'linesight_deadline_missed_total',
    help: 'Parts whose result was not ready by the deadline.',
    labelNames: ['line', 'camera'] as const,
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'linesight_frames_dropped_total',
    help: 'Frames not inspected, by reason.',
    labelNames: ['line', 'camera', 'reason'] as const,
    registers: [registry],
  });
  const late = new Counter({
    name: 'linesight_late_results_total',
    help: 'Inference results that arrived after their part had a timeout verdict.',
    labelNames: ['line', 'camera'] as const,
    registers: [registry],
  });
  const publishFailed = new Counter({
    name: 'linesight_publish_failures_total',
    help: 'Verdicts a sink could not publish.',
    labelNames: ['sink'] as const,
    registers: [registry],
  });

  new Gauge({
    name: 'linesight_pool_queue_depth',
    help: 'Parts waiting for a worker.',
    registers: [registry],
    collect() {
      this.set(sources.pool().queued);
    },
  });
  new Gauge({
    name: 'linesight_pool_busy_workers',
    help: 'Workers running an inference.',
    registers: [registry],
    collect() {
      this.set(sources.pool().running);
    },
  });
  new Gauge({
    name: 'linesight_pool_workers',
    help: 'Worker threads in the pool.',
    registers: [registry],
    collect() {
      this.set(sources.pool().workers);
    },
  });
  new Gauge({
    name: 'linesight_pool_worker_crashes',
    help: 'Workers that died mid-task since start (each was replaced).',
    registers: [registry],
    collect() {
      this.set(sources.pool().crashed);
    },
  });
  new Gauge({
    name: 'linesight_publisher_connected',
    help: '1 when the sink is connected.',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.publishers()) this.set({ sink: p.name }, p.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'linesight_publisher_pending',
    help: 'Verdicts handed to the sink and not yet acknowledged.',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.publishers()) this.set({ sink: p.name }, p.pending);
    },
  });
  new Gauge({
    name: 'linesight_model_info',
    help: 'The model version each camera serves (value 1), with the execution provider in use.',
    labelNames: ['camera', 'model', 'version', 'provider'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const m of sources.models()) this.set({ camera: m.camera, model: m.name, version: m.version, provider: m.provider }, 1);
    },
  });

  new Gauge({
    name: 'linesight_camera_fps',
    help: 'Frames per second the camera delivers (last 5 s).',
    labelNames: ['camera'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.cameras()) this.set({ camera: c.camera }, c.fps);
    },
  });
  new Gauge({
    name: 'linesight_camera_frames',
    help: 'Frames the camera has delivered since start.',
    labelNames: ['camera'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.cameras()) this.set({ camera: c.camera }, c.framesEmitted);
    },
  });
  new Gauge({
    name: 'linesight_camera_reconnects',
    help: 'Reconnects of the camera since start.',
    labelNames: ['camera'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.cameras()) this.set({ camera: c.camera }, c.reconnects);
    },
  });
  new Gauge({
    name: 'linesight_camera_state',
    help: 'Camera health: 1 for the current state (connecting, streaming, stalled, failed, ...).',
    labelNames: ['camera', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.cameras()) for (const st of cameraStates) this.set({ camera: c.camera, state: st }, c.state === st ? 1 : 0);
    },
  });

  bus.on('verdict', (v: Verdict) => {
    parts.inc({ line: v.line, camera: v.camera, verdict: v.verdict, action: v.action });
    latency.observe({ line: v.line, camera: v.camera }, v.timings.totalMs / 1000);
    if (!v.deadlineMet) deadlineMissed.inc({ line: v.line, camera: v.camera });
    const t = v.timings;
    if (t.queueMs !== null) stage.observe({ camera: v.camera, stage: 'queue' }, t.queueMs / 1000);
    if (t.preprocessMs !== null) stage.observe({ camera: v.camera, stage: 'preprocess' }, t.preprocessMs / 1000);
    if (t.inferenceMs !== null) stage.observe({ camera: v.camera, stage: 'inference' }, t.inferenceMs / 1000);
  });
  bus.on('frame-dropped', (e) => dropped.inc({ line: e.line, camera: e.camera, reason: e.reason }));
  bus.on('late-result', (e) => late.inc({ line: e.line, camera: e.camera }));
  bus.on('publish-failed', (e) => publishFailed.inc({ sink: e.sink }));
  return registry;
}
