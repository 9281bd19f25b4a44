// The MQTT wire of the cloud publisher: a connection of its own to the cloud broker (AWS IoT
// Core, or any MQTT 5 broker) over mutual TLS, QoS 1; a message is acked by its PUBACK. The drain
// above it (cloud-publisher.ts) is shared with the Greengrass IPC wire.
import mqtt from 'mqtt';
import { systemClock, type Clock } from '../clock.js';
import { redactText } from '../redact.js';
import { certificateDateProblem, describeConnectError, type CloudTls } from './cloud-tls.js';
import { CloudPublisher, type CloudDrainOptions } from './cloud-publisher.js';
import type { CloudConnection, CloudConnectionEvents, CloudTransport, SendOutcome } from './cloud-transport.js';
import type { OutboxMessage } from './outbox.js';

// MQTT 5 PUBACK reason codes that mean "never, not just now": quarantine.
const REFUSED: Record<number, string> = {
  0x80: 'unspecified error',
  0x83: 'implementation specific error',
  0x87: 'not authorized',
  0x90: 'topic name invalid',
  0x95: 'packet too large',
  0x97: 'quota exceeded',
  0x99: 'payload format invalid',
};

export interface MqttCloudTransportOptions {
  url: string;
  /** The MQTT client id (the IoT Core thing name). */
  thingName: string;
  tls?: CloudTls;
  connectTimeoutMs?: number;
  clock?: Clock;
}

export class MqttCloudTransport implements CloudTransport {
  readonly name = 'cloud-mqtt';
  readonly target: string;
  readonly #o: MqttCloudTransportOptions;

  constructor(options: MqttCloudTransportOptions) {
    this.#o = options;
    this.target = redactText(options.url);
  }

  startProblem(): string | null {
    const dates = certificateDateProblem(this.#o.tls?.cert, (this.#o.clock ?? systemClock).wallNow());
    return dates ? `${dates}; the broker will refuse it` : null;
  }

  connect(events: CloudConnectionEvents): CloudConnection {
    const { url, thingName, tls, connectTimeoutMs } = this.#o;
    const client = mqtt.connect(url, {
      clientId: thingName,
      protocolVersion: 5,
      // The outbox is our persistence; a broker session would only duplicate it.
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: connectTimeoutMs ?? 10_000,
      keepalive: 60,
      ...tls,
    });
    let connected = false;
    let over = false;
    let lastError: string | null = null;
    const close = (reason: string) => {
      if (over) return;
      over = true;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      events.closed(reason);
    };
    client.on('connect', (connack) => {
      connected = true;
      lastError = null;
      events.open(connack.properties?.maximumPacketSize === undefined ? {} : { maxPacketBytes: connack.properties.maximumPacketSize });
    });
    client.on('error', (err) => {
      lastError = describeConnectError(err);
      // An error on a live connection is a protocol error (mosquitto 2.0 answers an oversized
      // publish with a PUBACK code mqtt.js cannot parse, after which it reads nothing more):
      // drop the connection, and let probing find the message that caused it.
      if (connected) close(lastError);
      else events.problem(lastError);
    });
    client.on('disconnect', (packet) => {
      lastError = `the broker disconnected us (reason ${packet.reasonCode ?? 0})`;
      events.problem(lastError);
    });
    client.on('close', () => close(lastError ?? 'connection closed'));
    client.on('offline', () => undefined);
    return {
      send: (m: OutboxMessage, settled: (outcome: SendOutcome) => void) => {
        client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
          if (over) return;
          settled(outcome(err));
        });
      },
      end: () => {
        over = true;
        client.removeAllListeners();
        client.on('error', () => undefined);
        return new Promise<void>((r) => client.end(true, {}, () => r()));
      },
    };
  }
}

function outcome(err: Error | undefined): SendOutcome {
  if (!err) return { kind: 'acked' };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && code >= 0x80) return { kind: 'refused', reason: `the broker refused it: ${REFUSED[code] ?? 'error'} (reason code 0x${code.toString(16)})` };
  // Not an answer from the broker (the client is closing): try again later.
  return { kind: 'failed', reason: err.message };
}

export interface CloudMqttOptions extends CloudDrainOptions {
  url: string;
  thingName: string;
  tls?: CloudTls;
}

/** The cloud publisher over its own MQTT connection. */
export class CloudMqttPublisher extends CloudPublisher {
  constructor(options: CloudMqttOptions) {
    const { url, thingName, tls, ...drain } = options;
    const transport = new MqttCloudTransport({ url, thingName, tls, connectTimeoutMs: drain.reconnect?.connectTimeoutMs, clock: drain.clock });
    super({ ...drain, transport });
  }
}
