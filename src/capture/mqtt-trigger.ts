// Parts announced on an MQTT topic (a PLC or photo-eye gateway publishes one message per part).
// A message is always a part, even with an unreadable payload: the part is physically there and
// must get a verdict; only its id is lost (and logged). Retained messages are stale by
// definition and are ignored.
//
// The subscription lives in a persistent session (MQTT 3.1.1 clean session off, a stable client
// id, QoS 1): while this client is disconnected (a network blip, a broker restart, Linesight
// itself restarting) the broker keeps the triggers and hands them over on reconnect. A broker
// only keeps sessions across its own restart when it persists them (mosquitto: `persistence
// true`); see the README. MQTT 3.1.1 rather than 5, because the embedded broker (aedes) speaks
// 3.1.1. QoS 1 is at-least-once, so repeats are filtered (redelivery.ts).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock, waitAtMost, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { redactText } from '../redact.js';
import { RedeliveryFilter } from './redelivery.js';
import { HealthState, parseTriggerPayload, type PayloadProblem, type Trigger, type TriggerEvent, type TriggerHealth, type TriggerHealthListener, type TriggerStats } from './trigger.js';

export interface MqttTriggerOptions {
  url: string;
  topic: string;
  /** Must stay the same across restarts: the broker finds the stored session by it. */
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  /** TLS options for mqtts:// (ca, cert, key, rejectUnauthorized, servername), passed to mqtt.js. */
  tls?: Pick<IClientOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;
  log: Logger;
  clock?: Clock;
  /** A part id seen again within this long is a redelivery, not a new part; 0 turns it off. */
  dedupeMs?: number;
  /** How long start() waits for the subscription before carrying on without it. */
  subscribeWaitMs?: number;
  onHealthChange?: TriggerHealthListener;
}

export const defaultDedupeMs = 60_000;

export interface MqttTriggerCounters {
  /** Messages passed on as parts. */
  fired: number;
  /** Repeats dropped: resent by the broker (`packet`) or by the publisher (`part`). */
  repeats: { packet: number; part: number };
  /** Messages whose payload could not be (fully) read, by problem; each was still a part. */
  rejectedPayloads: Partial<Record<PayloadProblem, number>>;
}

export class MqttTrigger implements Trigger {
  readonly kind = 'mqtt';
  readonly #o: MqttTriggerOptions;
  readonly #clock: Clock;
  readonly #health: HealthState;
  readonly #redelivery: RedeliveryFilter;
  #client: MqttClient | undefined;
  #connects = 0;
  readonly counters: MqttTriggerCounters = { fired: 0, repeats: { packet: 0, part: 0 }, rejectedPayloads: {} };
  readonly #problems: RateLimitedLog;

  constructor(options: MqttTriggerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#health = new HealthState({ ok: false, detail: 'not started' }, options.onHealthChange);
    this.#redelivery = new RedeliveryFilter({ clock: this.#clock, windowMs: options.dedupeMs ?? defaultDedupeMs });
    this.#problems = new RateLimitedLog({ clock: this.#clock });
  }

  stats(): TriggerStats {
    return { fired: this.counters.fired, repeats: this.counters.repeats.packet + this.counters.repeats.part, restarts: 0, rejectedPayloads: { ...this.counters.rejectedPayloads } };
  }

  health(): TriggerHealth {
    return this.#health.get();
  }

  async start(fire: (event: TriggerEvent) => void): Promise<void> {
    const { url, topic, clientId, username, password, log } = this.#o;
    const options: IClientOptions = {
      clientId,
      username,
      password,
      ...this.#o.tls,
      protocolVersion: 4,
      clean: false,
      reconnectPeriod: 1000,
      // Subscribed on every connect below, whether or not the broker kept the session.
      resubscribe: false,
    };
    const client = mqtt.connect(url, options);
    this.#client = client;
    let subscribed: () => void = () => {};
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    client.on('connect', (connack) => {
      this.#connects++;
      if (!connack.sessionPresent) {
        this.#redelivery.newSession();
        // On a reconnect this means the broker dropped the session (restarted without
        // persistence, or expired it): triggers sent meanwhile are gone, and only the broker's
        // configuration can fix that, so say so loudly.
        if (this.#connects > 1) log.error({ topic }, 'the broker kept no session for the trigger client: triggers sent while it was disconnected are lost (enable persistence on the broker)');
      }
      // Subscribing again to an existing subscription keeps its queued messages (MQTT 3.1.1
      // 3.8.4), so doing it every time covers both a kept and a lost session.
      client.subscribe(topic, { qos: 1 }, (err, granted) => {
        const refused = granted?.find((g) => g.qos === 128);
        if (err || refused) {
          const why = err ? err.message : 'the broker refused the subscription';
          log.error({ err, topic }, 'cannot subscribe to the trigger topic');
          this.#health.set(false, `cannot subscribe to ${topic}: ${why}`);
        } else {
          if (granted?.some((g) => g.qos === 0)) log.warn({ topic }, 'the broker granted QoS 0 for the trigger topic: triggers sent while disconnected are not kept');
          log.info({ topic, sessionPresent: connack.sessionPresent }, 'waiting for part triggers');
          this.#health.set(true, `subscribed to ${topic}`);
        }
        subscribed();
      });
    });
    client.on('close', () => {
      if (this.#client === client) this.#health.set(false, `not connected to the broker at ${redactText(url)}; triggers wait in the broker's session`);
    });
    client.on('error', (err) => log.warn({ err: redactText(err.message), url: redactText(url) }, 'trigger MQTT error'));
    client.on('message', (msgTopic, payload, packet) => {
      // A persistent session outlives configuration: a topic this station used before may still
      // be subscribed in it. Those messages are not this station's parts.
      if (msgTopic !== topic) {
        log.warn({ topic: msgTopic }, 'ignored a message on a topic left subscribed in the stored session');
        return;
      }
      if (packet.retain) {
        log.warn({ topic: msgTopic }, 'ignored a retained trigger message (stale)');
        return;
      }
      const { partId, sentWall, problem, reason } = parseTriggerPayload(payload);
      const repeat = this.#redelivery.check({ messageId: packet.messageId, dup: packet.dup, payload, partId });
      if (repeat) {
        this.counters.repeats[repeat]++;
        log.info({ topic: msgTopic, partId, messageId: packet.messageId, resentBy: repeat === 'packet' ? 'broker' : 'publisher' }, 'ignored a repeated trigger (QoS 1 redelivery)');
        return;
      }
      if (reason) {
        this.counters.rejectedPayloads[reason] = (this.counters.rejectedPayloads[reason] ?? 0) + 1;
        this.#problems.report(reason, (more) =>
          log.warn({ topic: msgTopic, problem, reason, more, code: 'LS_ERR_TRIGGER_PAYLOAD' }, `trigger payload problem (${reason}); inspecting the part anyway, under a generated id`),
        );
      }
      this.counters.fired++;
      try {
        fire({ ...(partId ? { partId } : {}), ...(sentWall ? { sentWall } : {}), origin: `mqtt:${msgTopic}` });
      } catch (err) {
        log.error({ err, topic: msgTopic, partId }, 'the station refused a trigger');
      }
    });
    // Wait for the subscription, so a trigger sent right after start() is not missed; a broker
    // that is down does not hold start-up (the client keeps reconnecting and resubscribes).
    await waitAtMost(ready, this.#o.subscribeWaitMs ?? 3000, this.#clock);
  }

  async stop(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#health.set(false, 'stopped');
    this.#problems.close();
    // A clean DISCONNECT keeps the session: triggers sent while Linesight restarts are queued.
    // Forced only when a packet still awaits its acknowledgement: a graceful end would wait for
    // it forever if the broker is gone.
    if (c) await c.endAsync(!c.connected || Object.keys(c.outgoing).length > 0);
  }
}
