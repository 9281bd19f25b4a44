// Verdicts as MQTT Sparkplug B (issue 13): one edge node per box, one device per station.
// Per the specification (Sparkplug 3.0): every MQTT session starts with NBIRTH (seq 0, carrying
// bdSeq) and a DBIRTH per station naming all their metrics; each part is one DDATA; seq counts
// every message of the session and wraps from 255 to 0; NDEATH with the same bdSeq is the MQTT
// will, so the broker announces the death when the process dies; a new session takes the next
// bdSeq (kept in the state directory, so a restart does not reuse one). A Rebirth command (NCMD
// Node Control/Rebirth) resends the births. While the broker is away parts are not queued:
// Sparkplug state is live, and the next births carry the current values and counters.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import { waitAtMost, type Clock, type TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { Verdict } from '../verdict.js';
import type { Publisher, PublisherHealth } from './publisher.js';
import { birthMetrics, decodePayload, encodePayload, healthMetrics, partMetrics, type DeviceState, type StationTotals } from './sparkplug-payloads.js';

export interface SparkplugOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; servername?: string; ALPNProtocols?: string[] };
  groupId: string;
  edgeNodeId: string;
  stations: readonly string[];
  view: (station: string) => DeviceState;
  /** File that keeps the last bdSeq across restarts. */
  bdSeqFile: string;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  reconnect?: { initialMs: number; maxMs: number };
}

interface Device {
  totals: StationTotals;
  last: { verdict: Verdict; sequence: number } | null;
  sequence: number;
}

/** How long a stop waits for the broker to take the NDEATH and the DISCONNECT. */
const goodbyeMs = 2000;

export const sparkplugTopic = (group: string, type: string, edge: string, device?: string) => `spBv1.0/${group}/${type}/${edge}${device ? `/${device}` : ''}`;

export class SparkplugPublisher implements Publisher {
  readonly name = 'sparkplug';
  readonly #o: SparkplugOptions;
  readonly #devices = new Map<string, Device>();
  readonly #offs: Array<() => void> = [];
  #client: MqttClient | undefined;
  #online = false;
  #seq = 0;
  #bdSeq = 0;
  #published = 0;
  #dropped = 0;
  #failed = 0;
  #lastError: string | null = null;
  #retryMs: number;
  #retry: TimerHandle | undefined;
  #stopped = false;

  constructor(options: SparkplugOptions) {
    this.#o = options;
    this.#retryMs = options.reconnect?.initialMs ?? 1000;
    for (const id of options.stations) this.#devices.set(id, { totals: { counts: { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 }, budgetMisses: 0 }, last: null, sequence: 0 });
  }

  /** The bdSeq of the current (or last) session. */
  get bdSeq(): number {
    return this.#bdSeq;
  }

  async start(): Promise<void> {
    this.#offs.push(this.#o.bus.on('camera-state', (e) => this.#health(e.camera)));
    this.#offs.push(this.#o.bus.on('model-changed', (e) => this.#health(e.camera)));
    this.#connect();
  }

  #topic(type: string, device?: string): string {
    return sparkplugTopic(this.#o.groupId, type, this.#o.edgeNodeId, device);
  }

  #nextBdSeq(): number {
    let last = -1;
    try {
      if (existsSync(this.#o.bdSeqFile)) last = Number.parseInt(readFileSync(this.#o.bdSeqFile, 'utf8'), 10);
    } catch {
      last = -1;
    }
    const next = Number.isInteger(last) && last >= 0 ? (last + 1) % 256 : 0;
    try {
      writeFileSync(this.#o.bdSeqFile, String(next));
    } catch (err) {
      this.#o.log.warn({ err, file: this.#o.bdSeqFile }, 'Sparkplug: cannot keep bdSeq; a restart may reuse it');
    }
    return next;
  }

  #connect(): void {
    if (this.#stopped) return;
    const o = this.#o;
    this.#bdSeq = this.#nextBdSeq();
    const death = encodePayload({ timestamp: o.clock.wallNow(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.#bdSeq }] });
    // One client per MQTT session: the will (NDEATH) carries this session's bdSeq, and mqtt.js
    // would reconnect with the same will, so reconnecting is ours.
    const client = mqtt.connect(o.url, {
      clientId: `${o.groupId}-${o.edgeNodeId}`.slice(0, 64),
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...o.tls,
      will: { topic: this.#topic('NDEATH'), payload: death, qos: 1, retain: false },
    });
    this.#client = client;
    client.on('connect', () => {
      this.#retryMs = o.reconnect?.initialMs ?? 1000;
      client.subscribe(this.#topic('NCMD'), { qos: 0 });
      this.#birth();
    });
    client.on('message', (topic, payload) => this.#command(topic, payload));
    client.on('error', (err) => {
      this.#lastError = err.message;
    });
    client.on('close', () => {
      this.#online = false;
      if (this.#client !== client || this.#stopped) return;
      client.removeAllListeners();
      client.end(true);
      this.#retry = o.clock.setTimer(this.#retryMs, () => this.#connect());
      this.#retryMs = Math.min(this.#retryMs * 2, o.reconnect?.maxMs ?? 30_000);
    });
  }

  #send(type: string, device: string | undefined, metrics: UMetric[], at: number, seq = true): void {
    const payload = encodePayload({ timestamp: at, metrics, ...(seq ? { seq: this.#seq } : {}) });
    if (seq) this.#seq = (this.#seq + 1) % 256;
    this.#client!.publish(this.#topic(type, device), payload, { qos: 0, retain: false }, (err) => {
      if (err) {
        this.#failed++;
        this.#lastError = err.message;
      }
    });
    this.#published++;
  }

  #birth(): void {
    const now = this.#o.clock.wallNow();
    this.#seq = 0;
    this.#send('NBIRTH', undefined, [
      { name: 'bdSeq', type: 'UInt64', value: this.#bdSeq, timestamp: now },
      { name: 'Node Control/Rebirth', type: 'Boolean', value: false, timestamp: now },
    ], now);
    for (const [id, d] of this.#devices) this.#send('DBIRTH', id, birthMetrics(d.last, d.totals, this.#o.view(id), now), now);
    this.#online = true;
    this.#o.log.info({ bdSeq: this.#bdSeq, topic: this.#topic('NBIRTH') }, 'Sparkplug: node born');
  }

  #command(topic: string, payload: Buffer): void {
    if (topic !== this.#topic('NCMD')) return;
    try {
      const p = decodePayload(payload);
      if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) this.#birth();
    } catch (err) {
      this.#o.log.warn({ err }, 'Sparkplug: unreadable NCMD ignored');
    }
  }

  publish(v: Verdict): void {
    const d = this.#devices.get(v.camera);
    if (!d) return;
    d.totals.counts[v.verdict]++;
    if (!v.deadlineMet) d.totals.budgetMisses++;
    d.sequence++;
    d.last = { verdict: v, sequence: d.sequence };
    if (!this.#online) {
      this.#dropped++;
      return;
    }
    this.#send('DDATA', v.camera, partMetrics(v, d.totals, d.sequence), Date.parse(v.decidedAt));
  }

  #health(id: string): void {
    if (!this.#online || !this.#devices.has(id)) return;
    const now = this.#o.clock.wallNow();
    this.#send('DDATA', id, healthMetrics(this.#o.view(id), now), now);
  }

  health(): PublisherHealth & { dropped: number } {
    return { connected: this.#online, pending: 0, published: this.#published, failed: this.#failed, lastError: this.#lastError, dropped: this.#dropped };
  }

  /**
   * A graceful end announces the death itself, then says DISCONNECT so the broker discards the
   * will: without it (a forced close) the broker would publish the will too, and a host would see
   * two NDEATHs for one session. Both steps are bounded: a broker that does not answer gets the
   * forced close, and its will stands for the goodbye.
   */
  async stop(_drainMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#retry?.cancel();
    for (const off of this.#offs.splice(0)) off();
    const client = this.#client;
    if (!client) return;
    client.removeAllListeners('close');
    let graceful = false;
    if (this.#online) {
      this.#online = false;
      const death = encodePayload({ timestamp: this.#o.clock.wallNow(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: this.#bdSeq }] });
      const goodbye = (async () => {
        await client.publishAsync(this.#topic('NDEATH'), death, { qos: 1 });
        await client.endAsync(false);
        graceful = true;
      })().catch((err: Error) => this.#o.log.warn({ err }, 'Sparkplug: NDEATH not acknowledged; the will stands for it'));
      await waitAtMost(goodbye, goodbyeMs, this.#o.clock);
    }
    if (!graceful) await client.endAsync(true).catch(() => undefined);
  }
}
