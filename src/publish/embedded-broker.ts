// The embedded MQTT broker (aedes), so a box with no broker still serves PLCs and the
// dashboard. Loopback by default; an external broker replaces it when mqtt.url is set.
// Everything a client sends is hostile until checked: who it is (broker-access.ts), what it may
// publish and subscribe, how large its packets are, and how much a persistent session it leaves
// behind may hold (broker-persistence.ts).
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { systemClock, type Clock } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { QueueReport, QueueReporter } from '../queues.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { BrokerAccess, Identity } from './broker-access.js';
import { BoundedSessionQueues } from './broker-persistence.js';
import { readPem } from './mqtt-tls.js';

export interface EmbeddedBrokerTls {
  host?: string | undefined;
  port: number;
  cert: string;
  key: string;
  ca?: string | undefined;
  requireClientCert: boolean;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  access: BrokerAccess;
  /** A client whose packet's remaining length exceeds this is disconnected. */
  maxPacketBytes?: number;
  /** QoS 1 messages kept per persistent session; the oldest goes first. */
  maxQueuedPerClient?: number;
  tls?: EmbeddedBrokerTls | undefined;
  log: Logger;
  clock?: Clock;
}

/** What the broker refused since start, by reason (exported as linesight_broker_refused). */
export interface BrokerRefusals {
  connect: number;
  publish: number;
  subscribe: number;
  'packet-too-large': number;
}

// A refused PUBLISH is acknowledged and dropped, as Mosquitto does: MQTT 3.1.1 (3.3.5) leaves only
// that or closing the connection, and a closed connection makes a QoS 1 client resend the same
// message forever. aedes has no "drop" verdict, so a refused message is turned into an empty,
// non-retained one on this topic, which no client may subscribe to and nothing forwards.
const REFUSED_TOPIC = '$SYS/linesight/refused';

export class EmbeddedBroker implements QueueReporter {
  readonly #o: EmbeddedBrokerOptions;
  readonly #log: Logger;
  readonly #problems: RateLimitedLog;
  readonly #identities = new WeakMap<Client, Identity>();
  readonly #sessions: BoundedSessionQueues;
  readonly refusals: BrokerRefusals = { connect: 0, publish: 0, subscribe: 0, 'packet-too-large': 0 };
  #aedes: Aedes | undefined;
  #servers: Array<Server | TlsServer> = [];
  #url = '';
  #tlsUrl = '';

  constructor(options: EmbeddedBrokerOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#problems = new RateLimitedLog({ clock: options.clock ?? systemClock });
    this.#sessions = new BoundedSessionQueues({
      maxPerClient: options.maxQueuedPerClient ?? 10_000,
      onDrop: (d) =>
        this.#problems.report('session-full', (more) =>
          this.#log.warn(
            { clientId: d.clientId, topic: d.topic, droppedForClient: d.dropped, more, code: 'LS_ERR_MQTT_QUEUE_FULL' },
            `a persistent MQTT session is full (${this.#o.maxQueuedPerClient ?? 10_000} messages): its oldest message was dropped`,
          ),
        ),
    });
  }

  /** mqtt:// URL clients connect to; valid after start(). */
  get url(): string {
    return this.#url;
  }

  /** mqtts:// URL of the TLS listener, when there is one; valid after start(). */
  get tlsUrl(): string {
    return this.#tlsUrl;
  }

  /** The credentials Linesight's own clients use. */
  get serviceCredentials(): { username: string; password: string } {
    return { username: this.#o.access.serviceUsername, password: this.#o.access.servicePassword };
  }

  queues(): QueueReport[] {
    return this.#sessions.queues();
  }

  async start(): Promise<void> {
    const { access, log } = { access: this.#o.access, log: this.#log };
    const tlsFiles = this.#o.tls && {
      cert: readPem(this.#o.tls.cert, 'mqtt.embedded.tls.cert'),
      key: readPem(this.#o.tls.key, 'mqtt.embedded.tls.key'),
      ...(this.#o.tls.ca ? { ca: readPem(this.#o.tls.ca, 'mqtt.embedded.tls.ca') } : {}),
    };
    if (this.#o.tls?.requireClientCert && !this.#o.tls.ca) throw new LinesightError('LS_ERR_MQTT_TLS', 'requireClientCert needs mqtt.embedded.tls.ca', { args: [this.#o.tls.cert] });
    const aedes = await Aedes.createBroker({
      persistence: this.#sessions.persistence(),
      authenticate: (client, username, password, done) => {
        access.authenticate(username, password).then(
          (r) => {
            if ('refused' in r) {
              this.refusals.connect++;
              this.#problems.report('connect', (more) =>
                log.warn({ clientId: client.id, username, from: remote(client), more, code: 'LS_ERR_MQTT_NOT_AUTHORIZED' }, `refused an MQTT connection: ${r.refused}`),
              );
              done(Object.assign(new Error('not authorized'), { returnCode: 5 as const }), false);
              return;
            }
            this.#identities.set(client, r);
            done(null, true);
          },
          (err: unknown) => done(Object.assign(err as Error, { returnCode: 3 as const }), false),
        );
      },
      authorizePublish: (client, packet, done) => {
        // No client: a will the broker publishes for a client that is gone; it was that client's.
        if (!client) return done(null);
        const id = this.#identities.get(client);
        const why = id ? access.publishRefusal(id, packet.topic) : 'publish before authenticating';
        if (why) {
          this.refusals.publish++;
          this.#problems.report('publish', (more) =>
            log.warn({ clientId: client.id, user: id?.name, topic: packet.topic.slice(0, 200), more, code: 'LS_ERR_MQTT_FORBIDDEN' }, `dropped an MQTT message: client may not ${why}`),
          );
          packet.topic = REFUSED_TOPIC;
          packet.retain = false;
          packet.payload = Buffer.alloc(0);
        }
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const id = this.#identities.get(client);
        const why = sub.topic.startsWith(REFUSED_TOPIC.slice(0, 5)) && id?.kind !== 'service' ? `subscribe to ${sub.topic}` : id ? access.subscribeRefusal(id, sub.topic) : 'subscribe before authenticating';
        if (why) {
          this.refusals.subscribe++;
          this.#problems.report('subscribe', (more) =>
            log.warn({ clientId: client.id, user: id?.name, filter: sub.topic.slice(0, 200), more, code: 'LS_ERR_MQTT_FORBIDDEN' }, `refused an MQTT subscription: client may not ${why}`),
          );
          // A null subscription is answered with SUBACK 0x80 (failure) for this filter.
          return done(null, null);
        }
        done(null, sub);
      },
      authorizeForward: (_client, packet) => (packet.topic === REFUSED_TOPIC ? null : packet),
    });
    const handle = (socket: Socket) => this.#limitPacketSize(aedes.handle(socket));
    const servers: Array<Server | TlsServer> = [];
    try {
      servers.push(await listen(createServer(handle), this.#o.host, this.#o.port));
      if (this.#o.tls && tlsFiles) {
        const requireCert = this.#o.tls.requireClientCert;
        const tlsServer = createTlsServer({ ...tlsFiles, requestCert: requireCert, rejectUnauthorized: requireCert }, handle);
        tlsServer.on('tlsClientError', (err) =>
          this.#problems.report('tls', (more) => log.warn({ err, more }, 'a TLS client failed the handshake (wrong CA, no client certificate, or not TLS)')),
        );
        servers.push(await listen(tlsServer, this.#o.tls.host ?? this.#o.host, this.#o.tls.port));
      }
    } catch (err) {
      for (const s of servers) s.close();
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
    this.#aedes = aedes;
    this.#servers = servers;
    this.#url = urlOf('mqtt', this.#o.host, servers[0]!);
    if (servers[1]) this.#tlsUrl = urlOf('mqtts', this.#o.tls?.host ?? this.#o.host, servers[1]);
    log.info({ url: this.#url, ...(this.#tlsUrl ? { tls: this.#tlsUrl } : {}), maxPacketBytes: this.#o.maxPacketBytes ?? 65536 }, 'embedded MQTT broker listening');
    if (access.anonymous !== 'off') {
      log.warn(
        { anonymous: access.anonymous, url: this.#url },
        `!!! THE EMBEDDED MQTT BROKER ACCEPTS CLIENTS WITHOUT A PASSWORD: anyone who can reach ${this.#url}${this.#tlsUrl ? ` or ${this.#tlsUrl}` : ''} may subscribe${access.anonymous === 'trigger' ? ' and announce parts on trigger topics' : ''}. Configure mqtt.embedded.users (see README, MQTT access) !!!`,
      );
    }
  }

  /**
   * mqtt-packet has no size limit: it buffers a packet of any announced length (up to 256 MB)
   * before parsing it. The length is known from the fixed header, so the check goes there.
   */
  #limitPacketSize(client: Client): void {
    const max = this.#o.maxPacketBytes ?? 65536;
    const parser = (client as unknown as { _parser?: { _parseLength?: () => boolean; packet: { length: number; cmd?: string }; _emitError(e: Error): void } })._parser;
    const parseLength = parser?._parseLength;
    if (!parser || typeof parseLength !== 'function') throw new Error('aedes internals changed: cannot limit MQTT packet size (client._parser._parseLength)');
    parser._parseLength = () => {
      const ok = parseLength.call(parser);
      if (ok && parser.packet.length > max) {
        this.refusals['packet-too-large']++;
        const { length, cmd } = parser.packet;
        this.#problems.report('packet-too-large', (more) =>
          this.#log.warn({ clientId: client.id || undefined, from: remote(client), cmd, bytes: length, more, code: 'LS_ERR_MQTT_PACKET_TOO_LARGE' }, `disconnected an MQTT client: packet of ${length} bytes, over the ${max} byte limit`),
        );
        // The parser's error path makes aedes close the connection before the body is read.
        parser._emitError(new LinesightError('LS_ERR_MQTT_PACKET_TOO_LARGE', `${cmd} of ${length} bytes`, { args: [String(max)] }));
        return false;
      }
      return ok;
    };
  }

  async stop(): Promise<void> {
    const { servers, aedes } = { servers: this.#servers, aedes: this.#aedes };
    this.#servers = [];
    this.#aedes = undefined;
    this.#problems.close();
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function remote(client: Client): string | undefined {
  const c = client.conn as Partial<Socket>;
  return c.remoteAddress ? `${c.remoteAddress}:${c.remotePort}` : undefined;
}

function urlOf(scheme: string, host: string, server: Server | TlsServer): string {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function listen<S extends Server | TlsServer>(server: S, host: string, port: number): Promise<S> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new LinesightError('LS_ERR_BROKER_LISTEN', (err as Error).message, { args: [`${host}:${port}`], cause: err });
  }
  return server;
}
