// Prometheus metrics, fed from the event bus so no pipeline code knows about prom-client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventBus } from '../events.js';
import type { EvidenceUploaderHealth } from '../evidence/s3-uploader.js';
import type { CloudFeedStats } from '../publish/cloud-feed.js';
import type { QueueReport } from '../queues.js';
import type { Verdict } from '../verdict.js';
import type { TrialReport } from '../shadow/trial.js';

export interface MetricsSources {
  pool: () => { workers: number; running: number; queued: number; crashed: number; hung: number; refused: number; shed: number; spare?: { completed: number; dropped: Record<string, number> } };
  threads: () => Array<{ threadId: number; resident: string[]; warming: boolean }>;
  estimates: () => Array<{ model: string; size: string; ms: number }>;
  triggers: () => Array<{ camera: string; kind: string; up: boolean; fired: number; repeats: number; restarts: number; rejectedPayloads?: Partial<Record<string, number>> }>;
  /** What the embedded broker refused since start, by reason (connect, publish, subscribe, packet-too-large). */
  broker?: () => Record<string, number>;
  publishers: () => Array<{ name: string; connected: boolean; pending: number }>;
  /** The OPC UA server, when opcua.enabled: sessions, subscriptions and what it refused. */
  opcua?: () => { sessions: number; subscriptions: number; refusedCertificates: number; refusedLogins: number; refusedCalls: number } | undefined;
  models: () => Array<{ camera: string; name: string; version: string; provider: string }>;
  cameras: () => Array<{ camera: string; state: string; fps: number; reconnects: number; framesEmitted: number }>;
  /** Every bounded queue and buffer (MQTT offline queues, broker sessions, SSE clients, ...). */
  queues?: () => QueueReport[];
  /** The cloud publisher and its outbox, when cloud.enabled. */
  cloud?: () => CloudMetrics | undefined;
  /** What the cloud feed added to the outbox, when cloud.enabled. */
  cloudFeed?: () => CloudFeedStats | undefined;
  /** The S3 uploader of evidence images, when evidence.s3 is set. */
  evidenceUpload?: () => EvidenceUploaderHealth | undefined;
  /** Running shadow trials (issue 14). */
  shadow?: () => TrialReport[];
}

export interface CloudMetrics {
  connected: boolean;
  reconnects: number;
  published: number;
  refused: number;
  depth: number;
  bytes: number;
  oldestAgeMs: number;
  quarantined: number;
  dropped: Record<string, number>;
  /** SQLite outbox in background mode: commits not yet fsynced, and fsyncs that failed. */
  sync?: { pending: number; failures: number } | null;
}

const cameraStates = ['idle', 'connecting', 'streaming', 'stalled', 'failed', 'ended', 'stopped'] as const;

const latencyBuckets = [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];

export function createMetrics(bus: EventBus, sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'linesight_process_' });
  // prom-client's nodejs_active_{handles,requests,resources}_total are gauges with a counter's
  // suffix, which `promtool check metrics` rejects (and rate() over them would mislead). Each is the
  // sum of its per-type gauge, so sum(linesight_process_nodejs_active_handles) says the same.
  for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`linesight_process_nodejs_active_${kind}_total`);

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

  // Gauges read at scrape time from the parts that own the numbers.
  const sampled = (name: string, help: string, labelNames: readonly string[], read: () => Array<[Record<string, string>, number]>) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  const pool = (pick: (p: ReturnType<MetricsSources['pool']>) => number) => (): Array<[Record<string, string>, number]> => [[{}, pick(sources.pool())]];
  sampled('linesight_pool_queue_depth', 'Parts waiting for a worker.', [], pool((p) => p.queued));
  sampled('linesight_pool_busy_workers', 'Workers running an inference.', [], pool((p) => p.running));
  sampled('linesight_pool_workers', 'Worker threads in the pool.', [], pool((p) => p.workers));
  sampled('linesight_pool_thread_replacements', 'Inference threads replaced since start, by reason: crash (died on its own), hung (ran past its limit and was terminated).', ['reason'], () => {
    const p = sources.pool();
    return [[{ reason: 'crash' }, p.crashed], [{ reason: 'hung' }, p.hung]];
  });
  sampled('linesight_pool_refused_parts', 'Parts refused before they ran since start, because a fresh run-time estimate said they could not finish by their deadline (each got a timeout verdict at once).', [], pool((p) => p.refused));
  sampled('linesight_pool_shed_frames', 'Free-run frames shed since start because a station had too many waiting.', [], pool((p) => p.shed));
  sampled('linesight_worker_resident_sessions', 'Model sessions each inference thread holds (the active versions, plus one draining during a swap).', ['thread'], () =>
    sources.threads().map((t) => [{ thread: String(t.threadId) }, t.resident.length]),
  );
  sampled('linesight_pool_estimate_seconds', 'Run-time estimate used for admission, per model build and frame size class.', ['model', 'size'], () =>
    sources.estimates().map((e) => [{ model: e.model, size: e.size }, e.ms / 1000]),
  );
  sampled('linesight_publisher_connected', '1 when the sink is connected.', ['sink'], () => sources.publishers().map((p) => [{ sink: p.name }, p.connected ? 1 : 0]));
  sampled('linesight_publisher_pending', 'Verdicts handed to the sink and not yet acknowledged.', ['sink'], () => sources.publishers().map((p) => [{ sink: p.name }, p.pending]));
  const cloud = (pick: (c: CloudMetrics) => number) => (): Array<[Record<string, string>, number]> => {
    const c = sources.cloud?.();
    return c ? [[{}, pick(c)]] : [];
  };
  sampled('linesight_cloud_connected', '1 while connected to the cloud broker (informational: a dead cloud never makes the box unready).', [], cloud((c) => (c.connected ? 1 : 0)));
  sampled('linesight_cloud_reconnects', 'Cloud connection attempts after the first, since start.', [], cloud((c) => c.reconnects));
  sampled('linesight_cloud_published', 'Cloud messages acknowledged by the broker since start.', [], cloud((c) => c.published));
  sampled('linesight_cloud_refused', 'Cloud messages refused (before sending or by the broker) since start; they go to the quarantine.', [], cloud((c) => c.refused));
  sampled('linesight_outbox_depth', 'Messages waiting in the cloud outbox.', [], cloud((c) => c.depth));
  sampled('linesight_outbox_bytes', 'Bytes held by the cloud outbox (waiting and quarantined).', [], cloud((c) => c.bytes));
  sampled('linesight_outbox_oldest_age_seconds', 'Age of the oldest waiting message in the cloud outbox.', [], cloud((c) => c.oldestAgeMs / 1000));
  sampled('linesight_outbox_quarantined', 'Messages in the cloud outbox quarantine.', [], cloud((c) => c.quarantined));
  sampled('linesight_outbox_unsynced', 'Outbox commits written but not yet fsynced (background mode; normally 0 or 1: a power cut would lose these).', [], cloud((c) => c.sync?.pending ?? 0));
  sampled('linesight_outbox_sync_failures', 'fsyncs of the outbox WAL that failed since start (the disk is failing: check it).', [], cloud((c) => c.sync?.failures ?? 0));
  sampled('linesight_cloud_feed_messages', 'Messages the cloud feed added to the outbox since start, by class (fail, pass, summary, event).', ['class'], () =>
    Object.entries(sources.cloudFeed?.()?.added ?? {}).map(([cls, n]): [Record<string, string>, number] => [{ class: cls }, n]),
  );
  sampled('linesight_cloud_feed_problems', 'Cloud feed messages not added since start, by reason: refused (outbox full of higher priority), suppressed (event rate limit), error (the outbox failed).', ['reason'], () => {
    const f = sources.cloudFeed?.();
    return f ? [[{ reason: 'refused' }, f.refused], [{ reason: 'suppressed' }, f.eventsSuppressed], [{ reason: 'error' }, f.errors]] : [];
  });
  sampled('linesight_evidence_uploads', 'Evidence image uploads to S3 since start, by result (uploaded, failed attempts, quarantined, gone: deleted by the quota first).', ['result'], () => {
    const u = sources.evidenceUpload?.();
    return u ? [[{ result: 'uploaded' }, u.uploaded], [{ result: 'failed' }, u.failed], [{ result: 'quarantined' }, u.quarantined], [{ result: 'gone' }, u.gone]] : [];
  });
  sampled('linesight_evidence_upload_up', '1 while the last S3 request of the evidence uploader succeeded.', [], () => {
    const u = sources.evidenceUpload?.();
    return u ? [[{}, u.connected ? 1 : 0]] : [];
  });
  sampled('linesight_outbox_dropped', 'Messages the cloud outbox dropped since start, by reason (full:<class>, expired:<class>, oversize:<class>, quarantine-full:<class>, store-error:<class>).', ['reason'], () =>
    Object.entries(sources.cloud?.()?.dropped ?? {}).map(([reason, n]) => [{ reason }, n]),
  );
  sampled('linesight_model_info', 'The model version each camera serves (value 1), with the execution provider in use.', ['camera', 'model', 'version', 'provider'], () =>
    sources.models().map((m) => [{ camera: m.camera, model: m.name, version: m.version, provider: m.provider }, 1]),
  );
  sampled('linesight_trigger_up', '1 while the camera\'s MQTT or GPIO trigger input can deliver parts.', ['camera', 'kind'], () =>
    sources.triggers().map((t) => [{ camera: t.camera, kind: t.kind }, t.up ? 1 : 0]),
  );
  sampled('linesight_trigger_parts', 'Parts the trigger input announced since start.', ['camera', 'kind'], () => sources.triggers().map((t) => [{ camera: t.camera, kind: t.kind }, t.fired]));
  sampled('linesight_trigger_repeats', 'Trigger messages recognised as repeats (MQTT resends) and not fired again, since start.', ['camera', 'kind'], () =>
    sources.triggers().map((t) => [{ camera: t.camera, kind: t.kind }, t.repeats]),
  );
  sampled('linesight_trigger_rejected_payloads', 'Trigger messages whose payload could not be read since start, by reason (too-large, not-utf8, bad-json, bad-part-id, bad-sent-at); each was still inspected as a part.', ['camera', 'kind', 'reason'], () =>
    sources.triggers().flatMap((t) => Object.entries(t.rejectedPayloads ?? {}).map(([reason, n]): [Record<string, string>, number] => [{ camera: t.camera, kind: t.kind, reason }, n ?? 0])),
  );
  sampled('linesight_broker_refused', 'What the embedded MQTT broker refused since start, by reason: connect (not authorized), publish (dropped), subscribe (0x80), packet-too-large (disconnected).', ['reason'], () =>
    Object.entries(sources.broker?.() ?? {}).map(([reason, n]): [Record<string, string>, number] => [{ reason }, n]),
  );
  const opcua = (pick: (o: NonNullable<ReturnType<NonNullable<MetricsSources['opcua']>>>) => number) => (): Array<[Record<string, string>, number]> => {
    const o = sources.opcua?.();
    return o ? [[{}, pick(o)]] : [];
  };
  sampled('linesight_opcua_sessions', 'Open OPC UA sessions.', [], opcua((o) => o.sessions));
  sampled('linesight_opcua_subscriptions', 'OPC UA subscriptions.', [], opcua((o) => o.subscriptions));
  sampled('linesight_opcua_refused', 'What the OPC UA server refused since start, by reason: certificate (untrusted, expired, revoked client certificate), login (wrong password, unknown user), call (method without the right).', ['reason'], () => {
    const o = sources.opcua?.();
    return o ? [[{ reason: 'certificate' }, o.refusedCertificates], [{ reason: 'login' }, o.refusedLogins], [{ reason: 'call' }, o.refusedCalls]] : [];
  });
  sampled('linesight_trigger_restarts', 'Restarts of the trigger input (gpiomon) since start.', ['camera', 'kind'], () => sources.triggers().map((t) => [{ camera: t.camera, kind: t.kind }, t.restarts]));
  sampled('linesight_camera_fps', 'Frames per second the camera delivers (last 5 s).', ['camera'], () => sources.cameras().map((c) => [{ camera: c.camera }, c.fps]));
  sampled('linesight_camera_frames', 'Frames the camera has delivered since start.', ['camera'], () => sources.cameras().map((c) => [{ camera: c.camera }, c.framesEmitted]));
  sampled('linesight_camera_reconnects', 'Reconnects of the camera since start.', ['camera'], () => sources.cameras().map((c) => [{ camera: c.camera }, c.reconnects]));
  sampled('linesight_camera_state', 'Camera health: 1 for the current state (connecting, streaming, stalled, failed, ...).', ['camera', 'state'], () =>
    sources.cameras().flatMap((c) => cameraStates.map((st): [Record<string, string>, number] => [{ camera: c.camera, state: st }, c.state === st ? 1 : 0])),
  );

  const trials = () => sources.shadow?.() ?? [];
  const trialLabels = (t: TrialReport) => ({ camera: t.station, active: t.active, candidate: t.candidate });
  sampled('linesight_shadow_parts', 'Parts compared by the running shadow trial, by the active version\'s verdict and the candidate\'s (the confusion matrix).', ['camera', 'active', 'candidate', 'active_verdict', 'candidate_verdict'], () =>
    trials().flatMap((t) =>
      Object.entries(t.confusion).flatMap(([a, row]) => Object.entries(row).map(([c, n]): [Record<string, string>, number] => [{ ...trialLabels(t), active_verdict: a, candidate_verdict: c }, n])),
    ),
  );
  sampled('linesight_shadow_agreement', 'Share of compared parts where the shadow candidate gave the active version\'s verdict.', ['camera', 'active', 'candidate'], () =>
    trials().flatMap((t) => (t.agreement === null ? [] : [[trialLabels(t), t.agreement] as [Record<string, string>, number]])),
  );
  sampled('linesight_shadow_errors', 'Errors of the shadow candidate in the running trial.', ['camera', 'active', 'candidate'], () => trials().map((t) => [trialLabels(t), t.errors]));
  sampled('linesight_shadow_dropped', 'Shadow runs of the running trial dropped for want of spare capacity.', ['camera', 'active', 'candidate'], () => trials().map((t) => [trialLabels(t), t.dropped]));
  sampled('linesight_shadow_latency_p99_seconds', 'Worker time p99 (preprocess + inference) of the shadow candidate.', ['camera', 'active', 'candidate'], () =>
    trials().flatMap((t) => (t.latencyMs.candidate.p99 === null ? [] : [[trialLabels(t), t.latencyMs.candidate.p99 / 1000] as [Record<string, string>, number]])),
  );
  sampled('linesight_shadow_projected_latency_p99_seconds', 'Capture-to-verdict p99 had the shadow candidate served the compared parts (what the promotion policy judges).', ['camera', 'active', 'candidate'], () =>
    trials().flatMap((t) => (t.latencyMs.projected.p99 === null ? [] : [[trialLabels(t), t.latencyMs.projected.p99 / 1000] as [Record<string, string>, number]])),
  );
  sampled('linesight_shadow_ready', '1 while the running trial meets its promotion policy.', ['camera', 'active', 'candidate'], () => trials().map((t) => [trialLabels(t), t.judgement.ready ? 1 : 0]));
  sampled('linesight_pool_spare_dropped', 'Spare-capacity (shadow) runs the pool dropped unrun since start, by reason (load, stale, full, closed).', ['reason'], () =>
    Object.entries(sources.pool().spare?.dropped ?? {}).map(([reason, n]): [Record<string, string>, number] => [{ reason }, n]),
  );
  sampled('linesight_pool_spare_completed', 'Spare-capacity (shadow) runs completed since start.', [], () => [[{}, sources.pool().spare?.completed ?? 0]]);

  const queues = () => sources.queues?.() ?? [];
  sampled('linesight_queue_depth', 'Items held now by each bounded queue or buffer.', ['queue'], () => queues().map((q) => [{ queue: q.queue }, q.depth]));
  sampled('linesight_queue_capacity', 'The bound of each queue or buffer (items).', ['queue'], () => queues().map((q) => [{ queue: q.queue }, q.capacity]));
  sampled('linesight_queue_dropped', 'Items each bounded queue dropped since start, by reason (policy when full).', ['queue', 'reason'], () =>
    queues().flatMap((q) => Object.entries(q.dropped).map(([reason, n]): [Record<string, string>, number] => [{ queue: q.queue, reason }, n])),
  );

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
