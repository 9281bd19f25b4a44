// Verdicts to the local broker, QoS 1, for PLCs, reject gates and SCADA. One client per
// camera, because MQTT gives each connection one last will: each camera's retained status
// topic turns `offline` by itself if this process dies.
import mqtt, { type MqttClient } from 'mqtt';
import { waitAtMost, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { EventBus } from '../events.js';
import type { Verdict } from '../verdict.js';
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
  bus: EventBus;
  log: Logger;
  clock?: Clock;
  /** How long start() waits for the first connection before going on (the client keeps trying). */
  connectWaitMs?: number;
}

export class LocalMqttPublisher implements Publisher {
  readonly name = 'local-mqtt';
  readonly #o: LocalMqttOptions;
  readonly #clients = new Map<string, MqttClient>();
  #pending = 0;
  #published = 0;
  #failed = 0;
  #lastError: string | null = null;
  #flushWaiters: Array<() => void> = [];
  #stopped = false;

  constructor(options: LocalMqttOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { url, line, topicPrefix, clientIdPrefix, username, password, log } = this.#o;
    const connected: Promise<void>[] = [];
    for (const camera of this.#o.cameras) {
      const statusTopic = topics.status(topicPrefix, line, camera);
      const client = mqtt.connect(url, {
        clientId: `${clientIdPrefix}-${line}-${camera}`,
        username,
        password,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 5000,
        will: { topic: statusTopic, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      });
      client.on('connect', () => {
        log.info({ camera, url }, 'local MQTT connected');
        client.publish(statusTopic, STATUS_ONLINE, { qos: 1, retain: true });
      });
      client.on('error', (err) => {
        this.#lastError = err.message;
        log.warn({ err, camera, url }, 'local MQTT error');
      });
      client.on('offline', () => log.warn({ camera, url }, 'local MQTT offline; verdicts are queued in memory until it is back'));
      this.#clients.set(camera, client);
      connected.push(new Promise<void>((resolve) => client.once('connect', () => resolve())));
    }
    await waitAtMost(Promise.all(connected), this.#o.connectWaitMs ?? 3000, this.#o.clock);
  }

  publish(verdict: Verdict): void {
    const client = this.#clients.get(verdict.camera);
    if (!client || this.#stopped) {
      this.#failed++;
      this.#o.bus.emit('publish-failed', { sink: this.name, error: `no MQTT client for camera ${verdict.camera}` });
      return;
    }
    this.#pending++;
    const topic = topics.verdict(this.#o.topicPrefix, this.#o.line, verdict.camera);
    client.publish(topic, JSON.stringify(verdict), { qos: 1 }, (err) => {
      this.#pending--;
      if (err) {
        this.#failed++;
        this.#lastError = err.message;
        this.#o.bus.emit('publish-failed', { sink: this.name, error: err.message });
      } else {
        this.#published++;
      }
      if (this.#pending === 0) {
        const w = this.#flushWaiters;
        this.#flushWaiters = [];
        for (const f of w) f();
      }
    });
  }

  async stop(drainMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#pending) await waitAtMost(new Promise<void>((r) => this.#flushWaiters.push(r)), drainMs, this.#o.clock);
    if (this.#pending) this.#o.log.warn({ pending: this.#pending }, 'local MQTT: verdicts not acknowledged before shutdown');
    await Promise.all(
      [...this.#clients.entries()].map(async ([camera, client]) => {
        if (client.connected) {
          await client.publishAsync(topics.status(this.#o.topicPrefix, this.#o.line, camera), STATUS_OFFLINE, { qos: 1, retain: true }).catch(() => undefined);
        }
        await client.endAsync(!client.connected);
      }),
    );
  }

  health(): PublisherHealth {
    const all = [...this.#clients.values()];
    return {
      connected: all.length > 0 && all.every((c) => c.connected),
      pending: this.#pending,
      published: this.#published,
      failed: this.#failed,
      lastError: this.#lastError,
    };
  }
}
