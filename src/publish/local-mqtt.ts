// Verdicts to the local broker, QoS 1, for PLCs, reject gates and SCADA. One client per
// camera, because MQTT gives each connection one last will: each camera's retained status
// topic turns `offline` by itself if this process dies.
//
// Memory stays bounded through a broker outage: each camera's verdicts wait in our own bounded
// queue (offline-queue.ts) and at most `maxInflight` unacknowledged ones are handed to mqtt.js,
// whose own store has no bound. On reconnect mqtt.js resends its unacknowledged ones first, then
// the queue drains in order.
import mqtt, { type MqttClient } from 'mqtt';
import { systemClock, waitAtMost, type Clock } from '../clock.js';
import { redactText } from '../redact.js';
import type { Logger } from '../log.js';
import type { EventBus } from '../events.js';
import type { QueueReport, QueueReporter } from '../queues.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { Verdict } from '../verdict.js';
import type { ClientTlsOptions } from './mqtt-tls.js';
import { OfflineQueue } from './offline-queue.js';
import type { Publisher, PublisherHealth } from './publisher.js';
import { STATUS_OFFLINE, STATUS_ONLINE, topics } from './topics.js';

export interface LocalMqttOptions {
  url: string;
  line: string;
  cameras: readonly string[];
  topicPrefix: string;
  clientIdPrefix: string;
  username?: string | undefined;
  password?: string | undefined;
  /** CA, client certificate and key for mqtts:// (see mqtt-tls.ts). */
  tls?: ClientTlsOptions;
  /** Per camera: verdicts kept while the broker is away (default 9000: 15 min at 10 parts/s). */
  maxQueued?: number;
  /** Per camera: bound on the payload bytes kept (default 16 MiB). */
  maxQueuedBytes?: number;
  /** Per camera: unacknowledged publishes handed to mqtt.js at a time (default 100). */
  maxInflight?: number;
  bus: EventBus;
  log: Logger;
  clock?: Clock;
  /** How long start() waits for the first connection before going on (the client keeps trying). */
  connectWaitMs?: number;
}

/** How long stop() waits for the broker to acknowledge the `offline` status. */
const STATUS_ACK_WAIT_MS = 2000;

interface Camera {
  name: string;
  client: MqttClient;
  topic: string;
  queue: OfflineQueue;
  inflight: number;
  /** Offline, and a health-changed event said so. */
  down: boolean;
}

export class LocalMqttPublisher implements Publisher, QueueReporter {
  readonly name = 'local-mqtt';
  readonly #o: LocalMqttOptions;
  readonly #cameras = new Map<string, Camera>();
  readonly #problems: RateLimitedLog;
  #published = 0;
  #failed = 0;
  #lastError: string | null = null;
  #flushWaiters: Array<() => void> = [];
  #stopped = false;

  constructor(options: LocalMqttOptions) {
    this.#o = options;
    this.#problems = new RateLimitedLog({ clock: options.clock ?? systemClock });
  }

  async start(): Promise<void> {
    const { url, line, topicPrefix, clientIdPrefix, username, password, log } = this.#o;
    const shownUrl = redactText(url);
    const connected: Promise<void>[] = [];
    for (const camera of this.#o.cameras) {
      const statusTopic = topics.status(topicPrefix, line, camera);
      const client = mqtt.connect(url, {
        clientId: `${clientIdPrefix}-${line}-${camera}`,
        username,
        password,
        ...this.#o.tls,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 5000,
        will: { topic: statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      });
      const cam: Camera = {
        name: camera,
        client,
        topic: topics.verdict(topicPrefix, line, camera),
        queue: new OfflineQueue({ maxMessages: this.#o.maxQueued ?? 9000, maxBytes: this.#o.maxQueuedBytes ?? 16 * 1024 * 1024 }),
        inflight: 0,
        down: false,
      };
      client.on('connect', () => {
        log.info({ camera, url: shownUrl, queued: cam.queue.depth }, 'local MQTT connected');
        // Status is not queued like verdicts: only the latest matters, and the will covers the rest.
        client.publish(statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
        if (cam.down) {
          cam.down = false;
          this.#o.bus.emit('health-changed', { camera, component: 'local-mqtt', ok: true, detail: `connected to ${shownUrl}; ${cam.queue.depth} verdicts queued` });
        }
        this.#pump(cam);
      });
      client.on('error', (err) => {
        this.#lastError = redactText(err.message);
        log.warn({ err: this.#lastError, camera, url: shownUrl }, 'local MQTT error');
      });
      client.on('offline', () => {
        log.warn(
          { camera, url: shownUrl, maxQueued: cam.queue.maxMessages },
          'local MQTT offline; verdicts wait in a bounded queue until it is back (when full, the oldest pass is dropped first)',
        );
        if (!cam.down && !this.#stopped) {
          cam.down = true;
          this.#o.bus.emit('health-changed', { camera, component: 'local-mqtt', ok: false, detail: `no connection to ${shownUrl}: ${this.#lastError ?? 'connection closed'}` });
        }
      });
      this.#cameras.set(camera, cam);
      connected.push(new Promise<void>((resolve) => client.once('connect', () => resolve())));
    }
    await waitAtMost(Promise.all(connected), this.#o.connectWaitMs ?? 3000, this.#o.clock);
  }

  publish(verdict: Verdict): void {
    const cam = this.#cameras.get(verdict.camera);
    if (!cam || this.#stopped) {
      this.#failed++;
      this.#o.bus.emit('publish-failed', { sink: this.name, error: `no MQTT client for camera ${verdict.camera}` });
      return;
    }
    const payload = JSON.stringify(verdict);
    const drops = cam.queue.push({ payload, bytes: Buffer.byteLength(payload), expendable: verdict.verdict === 'pass' });
    for (const { reason } of drops) {
      this.#failed++;
      this.#problems.report(`drop:${cam.name}`, (more) =>
        this.#o.log.warn(
          { camera: cam.name, reason, more, queued: cam.queue.depth, dropped: { ...cam.queue.dropped }, code: 'LS_ERR_MQTT_QUEUE_FULL' },
          `the MQTT offline queue of ${cam.name} is full (${cam.queue.maxMessages} verdicts or ${cam.queue.maxBytes} bytes): dropped the oldest ${reason === 'full-pass' ? 'pass' : 'verdict'}`,
        ),
      );
      this.#o.bus.emit('publish-failed', { sink: this.name, error: `offline queue of ${cam.name} full (${reason})` });
    }
    this.#pump(cam);
  }

  /**
   * Model lifecycle news for people and dashboards (QoS 1, not retained). Unlike verdicts these
   * are not queued through an outage: the next event, the status API and /metrics say the same.
   */
  publishEvent(camera: string, event: Record<string, unknown> & { type: string }): void {
    const cam = this.#cameras.get(camera);
    if (!cam || this.#stopped || !cam.client.connected) return;
    const payload = JSON.stringify({ ...event, line: this.#o.line, camera, at: new Date((this.#o.clock ?? systemClock).wallNow()).toISOString() });
    cam.client.publish(topics.event(this.#o.topicPrefix, this.#o.line, camera), payload, { qos: 1 }, (err) => {
      if (err) this.#o.bus.emit('publish-failed', { sink: this.name, error: redactText(err.message) });
    });
  }

  /** Hands queued verdicts to mqtt.js while connected, at most maxInflight unacknowledged. */
  #pump(cam: Camera): void {
    const max = this.#o.maxInflight ?? 100;
    while (cam.client.connected && cam.inflight < max) {
      const m = cam.queue.shift();
      if (!m) break;
      cam.inflight++;
      cam.client.publish(cam.topic, m.payload, { qos: 1 }, (err) => {
        cam.inflight--;
        if (err) {
          this.#failed++;
          this.#lastError = redactText(err.message);
          this.#o.bus.emit('publish-failed', { sink: this.name, error: this.#lastError });
        } else {
          this.#published++;
        }
        this.#pump(cam);
        this.#wakeFlushWaiters();
      });
    }
  }

  #pending(): number {
    let n = 0;
    for (const c of this.#cameras.values()) n += c.inflight + c.queue.depth;
    return n;
  }

  #wakeFlushWaiters(): void {
    if (this.#pending() !== 0) return;
    const w = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const f of w) f();
  }

  queues(): QueueReport[] {
    return [...this.#cameras.values()].map((c) => ({ queue: `mqtt-offline:${c.name}`, depth: c.queue.depth, capacity: c.queue.maxMessages, dropped: { ...c.queue.dropped } }));
  }

  async stop(drainMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#pending()) await waitAtMost(new Promise<void>((r) => this.#flushWaiters.push(r)), drainMs, this.#o.clock);
    const left = this.#pending();
    if (left) this.#o.log.warn({ pending: left }, 'local MQTT: verdicts not acknowledged before shutdown');
    this.#problems.close();
    await Promise.all(
      [...this.#cameras.entries()].map(async ([camera, { client }]) => {
        if (client.connected) {
          const offline = client.publishAsync(topics.status(this.#o.topicPrefix, this.#o.line, camera), STATUS_OFFLINE, { qos: 1, retain: true });
          await waitAtMost(offline, STATUS_ACK_WAIT_MS, this.#o.clock);
        }
        // A graceful end waits for every outstanding acknowledgement, forever if the broker went
        // away meanwhile (stop then never returned). Forced, the broker publishes our will instead,
        // which says the same `offline`.
        await client.endAsync(!client.connected || Object.keys(client.outgoing).length > 0);
      }),
    );
  }

  health(): PublisherHealth {
    const all = [...this.#cameras.values()];
    return {
      connected: all.length > 0 && all.every((c) => c.client.connected),
      pending: this.#pending(),
      published: this.#published,
      failed: this.#failed,
      lastError: this.#lastError,
    };
  }
}
