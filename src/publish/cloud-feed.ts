// What goes to the cloud: listens on the event bus and adds outbox messages per station's
// selection (fails, passes, summaries, events). It only ever adds to the outbox, which never
// blocks; per verdict it does a few increments and, for a selected part, one JSON.stringify.
// Anything that goes wrong here is counted and logged (rate-limited), never thrown at the pipeline.
import type { Clock, TimerHandle } from '../clock.js';
import type { CloudSendConfig, StationCloudConfig } from '../config/schema.js';
import { fillTopic } from '../config/cloud-topics.js';
import type { EventBus, LinesightEvents } from '../events.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { redactText } from '../redact.js';
import type { Verdict, VerdictKind } from '../verdict.js';
import { verdictKinds } from '../verdict.js';
import {
  CLOUD_PAYLOAD_VERSION,
  cloudEventKinds,
  cloudMessage,
  verdictPayload,
  type CloudEventKind,
  type CloudEventPayload,
  type EvidenceRef,
} from './cloud-messages.js';
import type { MessageClass, NewMessage, Outbox } from './outbox.js';
import { StationSummary, windowEnd } from './station-summary.js';

export interface CloudSelection {
  fails: boolean;
  passes: boolean;
  /** Seconds per summary; 0: none. */
  summaries: number;
  events: boolean;
}

/** A station's selection: its own `cloud` keys over the global `cloud.send` ones. */
export function selectionFor(send: CloudSendConfig, station?: StationCloudConfig): CloudSelection {
  return {
    fails: station?.fails ?? send.fails,
    passes: station?.passes ?? send.passes,
    summaries: station?.summaries ?? send.summaries,
    events: station?.events ?? send.events,
  };
}

export interface CloudFeedOptions {
  line: string;
  stations: ReadonlyArray<{ id: string; cloud?: StationCloudConfig | undefined }>;
  send: CloudSendConfig;
  outbox: Pick<Outbox, 'add'>;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  /** The thing name, for topic templates that use {thing}. */
  thing?: string;
  /**
   * Evidence hook: the evidence reference of a part the cloud gets, when the evidence store keeps
   * its image. Called synchronously on the bus: must be cheap (a deterministic key, not I/O).
   * Without it, a verdict's own `evidence` field (if any) is used.
   */
  evidenceFor?: (v: Verdict) => EvidenceRef | null | undefined;
}

export interface CloudFeedStats {
  /** Messages added to the outbox, by class. */
  added: Record<MessageClass, number>;
  /** Payload bytes added. */
  bytes: number;
  /** Messages the outbox dropped at once (full, and nothing of lower priority to evict). */
  refused: number;
  /** Events dropped by the per-station rate limit. */
  eventsSuppressed: number;
  /** Outbox add() threw (e.g. the disk failed). */
  errors: number;
}

/** Detail strings in events come from outside (camera errors): bounded and redacted. */
const MAX_DETAIL_CHARS = 300;

interface StationState {
  selection: CloudSelection;
  summary: StationSummary | undefined;
  timer: TimerHandle | undefined;
  verdictTopics: Record<VerdictKind, string>;
  summaryTopic: string;
  eventTopics: Record<CloudEventKind, string>;
  /** Last camera state sent: only changes are news. */
  cameraRunning: boolean | undefined;
  eventWindowStart: number;
  eventsInWindow: number;
  suppressed: number;
}

export class CloudFeed {
  readonly #o: CloudFeedOptions;
  readonly #stations = new Map<string, StationState>();
  readonly #problems: RateLimitedLog;
  readonly #stats: CloudFeedStats = { added: { fail: 0, pass: 0, summary: 0, event: 0, evidence: 0 }, bytes: 0, refused: 0, eventsSuppressed: 0, errors: 0 };
  #offs: Array<() => void> = [];
  #eventSeq = 0;

  constructor(options: CloudFeedOptions) {
    this.#o = options;
    this.#problems = new RateLimitedLog({ clock: options.clock });
  }

  start(): void {
    if (this.#offs.length) return;
    const { line, thing = '' } = this.#o;
    for (const s of this.#o.stations) {
      const selection = selectionFor(this.#o.send, s.cloud);
      const t = this.#o.send.topics;
      const fill = (template: string, extra: Record<string, string> = {}) => fillTopic(template, { line, station: s.id, thing, ...extra });
      this.#stations.set(s.id, {
        selection,
        summary: selection.summaries > 0 ? new StationSummary(line, s.id, this.#o.clock.wallNow()) : undefined,
        timer: undefined,
        verdictTopics: Object.fromEntries(verdictKinds.map((k) => [k, fill(t.verdict, { verdict: k })])) as Record<VerdictKind, string>,
        summaryTopic: fill(t.summary),
        eventTopics: Object.fromEntries(cloudEventKinds.map((k) => [k, fill(t.event, { event: k })])) as Record<CloudEventKind, string>,
        cameraRunning: undefined,
        eventWindowStart: this.#o.clock.now(),
        eventsInWindow: 0,
        suppressed: 0,
      });
    }
    const bus = this.#o.bus;
    this.#offs.push(
      bus.on('verdict', (v) => this.#onVerdict(v)),
      bus.on('model-changed', (e) => this.#event(e.camera, 'model-changed', { from: e.from, to: e.to, reason: e.reason })),
      bus.on('model-refused', (e) => this.#event(e.camera, 'model-refused', { model: e.model, code: e.error.code, message: e.error.message })),
      bus.on('camera-state', (e) => this.#onCamera(e)),
      // A trial's milestones; its running agreement stays local (the dashboard, MQTT, /metrics).
      bus.on('shadow', (e) => {
        if (e.kind === 'agreement') return;
        this.#event(e.camera, 'shadow', { kind: e.kind, candidate: e.candidate, active: e.active, parts: e.parts, agreement: e.agreement, detail: e.detail ?? null });
      }),
      bus.on('health-changed', (e) => {
        // A line-wide component concerns every station.
        for (const camera of e.camera === null ? [...this.#stations.keys()] : [e.camera]) this.#event(camera, 'health', { component: e.component, ok: e.ok, detail: e.detail });
      }),
    );
    for (const [id, st] of this.#stations) if (st.summary) this.#schedule(id, st);
  }

  /** Sends the open summary windows (cut at now), then stops listening. Call before the outbox closes. */
  stop(): void {
    for (const off of this.#offs) off();
    this.#offs = [];
    const now = this.#o.clock.wallNow();
    for (const st of this.#stations.values()) {
      st.timer?.cancel();
      st.timer = undefined;
      if (st.summary && st.summary.parts > 0) this.#add('summary', st.summaryTopic, st.summary.close(now));
    }
  }

  stats(): CloudFeedStats {
    return { ...this.#stats, added: { ...this.#stats.added } };
  }

  #schedule(id: string, st: StationState): void {
    const intervalMs = st.selection.summaries * 1000;
    const wall = this.#o.clock.wallNow();
    const end = windowEnd(Math.max(wall, st.summary!.windowStart), intervalMs);
    st.timer = this.#o.clock.setTimer(end - wall, () => {
      // The window ends at its boundary, not when the timer happened to fire: ids stay aligned.
      this.#add('summary', st.summaryTopic, st.summary!.close(end));
      this.#schedule(id, st);
    });
  }

  #onVerdict(v: Verdict): void {
    const st = this.#stations.get(v.camera);
    if (!st) return;
    st.summary?.add(v);
    const pass = v.verdict === 'pass';
    if (pass ? !st.selection.passes : !st.selection.fails) return;
    let evidence: EvidenceRef | null = null;
    try {
      evidence = this.#o.evidenceFor?.(v) ?? (v as Verdict & { evidence?: EvidenceRef | null }).evidence ?? null;
    } catch (err) {
      this.#problem('evidence', { camera: v.camera, err }, 'evidence reference failed; the verdict goes to the cloud without one');
    }
    this.#add(pass ? 'pass' : 'fail', st.verdictTopics[v.verdict], verdictPayload(v, evidence));
  }

  #onCamera(e: LinesightEvents['camera-state']): void {
    const st = this.#stations.get(e.camera);
    // A camera that keeps failing to start reports each retry; the cloud needs the change only.
    if (!st || st.cameraRunning === e.running) return;
    st.cameraRunning = e.running;
    this.#event(e.camera, 'camera-state', { running: e.running, detail: e.detail });
  }

  #event(camera: string, event: CloudEventKind, detail: Record<string, string | number | boolean | null>): void {
    const st = this.#stations.get(camera);
    if (!st?.selection.events) return;
    const now = this.#o.clock.now();
    if (now - st.eventWindowStart >= 60_000) {
      st.eventWindowStart = now;
      st.eventsInWindow = 0;
    }
    if (st.eventsInWindow >= this.#o.send.maxEventsPerMinute) {
      st.suppressed++;
      this.#stats.eventsSuppressed++;
      this.#problem('event-limit', { camera, event, limit: this.#o.send.maxEventsPerMinute }, 'too many cloud events from one station; dropped (counted, reported in its next event)');
      return;
    }
    st.eventsInWindow++;
    const wall = this.#o.clock.wallNow();
    const clean: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries(detail)) clean[k] = typeof v === 'string' ? redactText(v).slice(0, MAX_DETAIL_CHARS) : v;
    const payload: CloudEventPayload = {
      v: CLOUD_PAYLOAD_VERSION,
      kind: 'event',
      // The wall time and a per-process counter: unique, and fixed once in the outbox.
      id: `${this.#o.line}.${camera}.${event}.${wall.toString(36)}-${(this.#eventSeq++).toString(36)}`,
      line: this.#o.line,
      station: camera,
      event,
      at: new Date(wall).toISOString(),
      detail: clean,
      suppressed: st.suppressed,
    };
    st.suppressed = 0;
    this.#add('event', st.eventTopics[event], payload);
  }

  #add(cls: MessageClass, topic: string, payload: Parameters<typeof cloudMessage>[2]): void {
    let message: NewMessage;
    try {
      message = cloudMessage(cls, topic, payload);
      if (this.#o.outbox.add(message)) {
        this.#stats.added[cls]++;
        this.#stats.bytes += message.payload.length;
      } else {
        this.#stats.refused++;
      }
    } catch (err) {
      this.#stats.errors++;
      this.#problem('outbox', { class: cls, station: payload.station, err }, 'cloud message not added to the outbox');
    }
  }

  #problem(kind: string, context: Record<string, unknown>, message: string): void {
    this.#problems.report(kind, (suppressed) => this.#o.log.error({ ...context, ...(suppressed ? { suppressed } : {}) }, message));
  }
}
