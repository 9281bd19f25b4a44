// Parts announced on an MQTT topic (a PLC or photo-eye gateway publishes one message per part).
// A message is always a part, even with an unreadable payload: the part is physically there and
// must get a verdict; only its id is lost (and logged). Retained messages are stale by
// definition and are ignored.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { parseTriggerPayload, type Trigger, type TriggerEvent } from './trigger.js';

export class MqttTrigger implements Trigger {
  readonly kind = 'mqtt';
  readonly #url: string;
  readonly #topic: string;
  readonly #clientId: string;
  readonly #auth: { username?: string | undefined; password?: string | undefined };
  readonly #log: Logger;
  #client: MqttClient | undefined;

  constructor(options: { url: string; topic: string; clientId: string; username?: string | undefined; password?: string | undefined; log: Logger }) {
    this.#url = options.url;
    this.#topic = options.topic;
    this.#clientId = options.clientId;
    this.#auth = { username: options.username, password: options.password };
    this.#log = options.log;
  }

  async start(fire: (event: TriggerEvent) => void): Promise<void> {
    const client = mqtt.connect(this.#url, { clientId: this.#clientId, ...this.#auth, clean: true, reconnectPeriod: 1000 });
    this.#client = client;
    let subscribed: () => void = () => {};
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    client.on('connect', () => {
      client.subscribe(this.#topic, { qos: 1 }, (err) => {
        if (err) this.#log.error({ err, topic: this.#topic }, 'cannot subscribe to the trigger topic');
        else this.#log.info({ topic: this.#topic }, 'waiting for part triggers');
        subscribed();
      });
    });
    client.on('error', (err) => this.#log.warn({ err }, 'trigger MQTT error'));
    client.on('message', (topic, payload, packet) => {
      if (packet.retain) {
        this.#log.warn({ topic }, 'ignored a retained trigger message (stale)');
        return;
      }
      const { partId, problem } = parseTriggerPayload(payload);
      if (problem) this.#log.warn({ topic, problem }, 'trigger payload has no usable part id; inspecting the part without one');
      fire({ ...(partId ? { partId } : {}), origin: `mqtt:${topic}` });
    });
    // Wait for the subscription, so a trigger sent right after start() is not missed; a broker
    // that is down does not hold start-up (the client keeps reconnecting and resubscribes).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    await c?.endAsync();
  }
}
