// A Greengrass nucleus's IPC server, as much of it as Linesight's cloud publisher talks to,
// speaking the real wire: AWS event-stream frames (encoded and decoded by @smithy's codec, CRCs
// and all) carrying event-stream RPC over a Unix domain socket. What it follows, from
// aws-greengrass-nucleus (ServiceOperationMappingContinuationHandler, OperationContinuationHandler,
// MqttProxyIPCAgent) and aws-c-event-stream's RPC framing:
// - every message carries :message-type, :message-flags and :stream-id (int32); protocol
//   messages use stream 0, an operation's messages its own stream id > 0;
// - Connect (type 4) with a :version header that must be "0.1.0" and the component's token as
//   {"authToken": SVCUID} in the payload; the answer is ConnectAck (5) with the
//   ConnectionAccepted flag (1), or without it, after which the nucleus closes the connection;
// - Ping (2) is answered with PingResponse (3) carrying its non-":" headers and payload;
// - an operation opens a stream: an ApplicationMessage (0) with an `operation` header and a JSON
//   request. For aws.greengrass#PublishToIoTCore ({topicName, qos, payload: base64}) the topic is
//   checked against the component's accessControl for aws.greengrass.ipc.mqttproxy; the answer
//   on the same stream, flagged TerminateStream (2), is an ApplicationMessage with
//   service-model-type aws.greengrass#PublishToIoTCoreResponse and "{}", or an ApplicationError
//   (1) with service-model-type aws.greengrass#UnauthorizedError (or #ServiceError) and the
//   error's JSON ({_service, _message, _errorCode, message}, as the nucleus's gson writes it);
// - an operation it does not know gets an ApplicationError {"error": "Unsupported Operation"}.
// Simplified: the answer is sent at once and means "taken" (the real nucleus answers once its
// MQTT client took the message: sent or spooled); there is no spooler, no IoT Core behind it,
// and `serviceErrors` stands in for a full spooler. Resource matching covers the MQTT wildcards
// (+, #) and the glob (*) of the nucleus's WildcardTrie, not its ${*} escapes or `?`. Other
// operations, streaming operations and version negotiation beyond "0.1.0" are not served.
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

export const MessageType = { ApplicationMessage: 0, ApplicationError: 1, Ping: 2, PingResponse: 3, Connect: 4, ConnectAck: 5 } as const;
const ConnectionAccepted = 1;
const TerminateStream = 2;
const PUBLISH = 'aws.greengrass#PublishToIoTCore';

/** One access control policy of aws.greengrass.ipc.mqttproxy, as a recipe writes it. */
export interface IpcPolicy {
  policyDescription?: string;
  operations: string[];
  resources: string[];
}

export interface Published {
  topic: string;
  payload: Buffer;
  qos: string;
  /** The connection (0, 1, ...) and stream it came on. */
  connection: number;
  stream: number;
}

/** The mqttproxy policies of a recipe's accessControl, with {iot:thingName} replaced as the nucleus does (interpolateComponentConfiguration). */
export function mqttProxyPolicies(accessControl: unknown, thingName: string): IpcPolicy[] {
  const section = (accessControl as Record<string, Record<string, IpcPolicy>> | undefined)?.['aws.greengrass.ipc.mqttproxy'] ?? {};
  return Object.values(section).map((p) => ({ ...p, resources: p.resources.map((r) => r.replaceAll('{iot:thingName}', thingName)) }));
}

/** Whether a resource pattern of an mqttproxy policy covers a topic (MQTT_STYLE lookup: +, # and *). */
export function resourceCovers(resource: string, topic: string): boolean {
  if (resource === '*' || resource === '#') return true;
  const levels = resource.split('/');
  let re = '';
  for (const [i, level] of levels.entries()) {
    const sep = i === 0 ? '' : '/';
    if (level === '#' && i === levels.length - 1) {
      // "a/b/#" matches "a/b" and everything under it.
      re += i === 0 ? '.*' : '(/.*)?';
      continue;
    }
    if (level === '+') {
      re += `${sep}[^/]*`;
      continue;
    }
    re += sep + level.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  }
  return new RegExp(`^${re}$`).test(topic);
}

export function policiesAllow(policies: readonly IpcPolicy[], operation: string, topic: string): boolean {
  return policies.some((p) => (p.operations.includes(operation) || p.operations.includes('*')) && p.resources.some((r) => resourceCovers(r, topic)));
}

export interface FakeNucleusOptions {
  socketPath: string;
  /** The component's SVCUID: a connect with another token is refused. */
  authToken: string;
  policies: IpcPolicy[];
}

export class FakeNucleusIpc {
  readonly published: Published[] = [];
  /** Topics answered with UnauthorizedError. */
  readonly unauthorized: string[] = [];
  /** Connects accepted and refused. */
  accepted = 0;
  refusedConnects = 0;
  /** Answer the next this-many publishes with ServiceError (the nucleus's spooler full). */
  serviceErrors = 0;
  readonly #o: FakeNucleusOptions;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  #connections = 0;
  #waiters: Array<() => void> = [];

  constructor(options: FakeNucleusOptions) {
    this.#o = options;
  }

  get socketPath(): string {
    return this.#o.socketPath;
  }

  async start(): Promise<void> {
    rmSync(this.#o.socketPath, { force: true });
    const server = createServer((socket) => this.#serve(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.socketPath, () => resolve());
    });
  }

  /** The nucleus going away: every connection dropped, the socket gone. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    rmSync(this.#o.socketPath, { force: true });
  }

  /** Resolves once `published` holds at least n messages. */
  async waitFor(n: number): Promise<void> {
    while (this.published.length < n) await new Promise<void>((r) => this.#waiters.push(r));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    const connection = this.#connections++;
    let buffered = Buffer.alloc(0);
    let connected = false;
    const streams = new Set<number>();
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      // A frame starts with its total length (big-endian uint32, the prelude's first field).
      while (buffered.length >= 4 && buffered.length >= buffered.readUInt32BE(0)) {
        const total = buffered.readUInt32BE(0);
        const frame = buffered.subarray(0, total);
        buffered = buffered.subarray(total);
        const { headers, body } = codec.decode(new Uint8Array(frame));
        const type = intHeader(headers, ':message-type');
        const stream = intHeader(headers, ':stream-id') ?? 0;
        if (type === MessageType.Connect) {
          connected = this.#onConnect(socket, headers, body);
          if (!connected) return;
        } else if (!connected) {
          // Nothing before a Connect: the nucleus answers with an error and closes.
          socket.destroy();
          return;
        } else if (type === MessageType.Ping) {
          const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':')));
          this.#send(socket, MessageType.PingResponse, 0, 0, kept, body);
        } else if (type === MessageType.ApplicationMessage && stream > 0 && !streams.has(stream)) {
          streams.add(stream);
          this.#onOperation(socket, connection, stream, stringHeader(headers, 'operation') ?? '', body);
        }
        // Later messages on a stream already answered (the client terminating it) need no answer.
      }
    });
  }

  #onConnect(socket: Socket, headers: MessageHeaders, body: Uint8Array): boolean {
    let token: unknown;
    try {
      token = (JSON.parse(Buffer.from(body).toString('utf8')) as { authToken?: unknown }).authToken;
    } catch {
      token = undefined;
    }
    const ok = stringHeader(headers, ':version') === '0.1.0' && token === this.#o.authToken;
    this.#send(socket, MessageType.ConnectAck, ok ? ConnectionAccepted : 0, 0, {}, new Uint8Array(0));
    if (ok) this.accepted++;
    else {
      this.refusedConnects++;
      socket.end();
    }
    return ok;
  }

  #onOperation(socket: Socket, connection: number, stream: number, operation: string, body: Uint8Array): void {
    if (operation !== PUBLISH) {
      this.#send(socket, MessageType.ApplicationError, TerminateStream, stream, { ':content-type': str('application/json') }, json({ error: 'Unsupported Operation', message: `${operation} is an unsupported operation.` }));
      return;
    }
    const request = JSON.parse(Buffer.from(body).toString('utf8')) as { topicName: string; qos: string; payload?: string };
    if (!policiesAllow(this.#o.policies, PUBLISH, request.topicName)) {
      this.unauthorized.push(request.topicName);
      this.#error(socket, stream, 'UnauthorizedError', 'Not Authorized');
      return;
    }
    if (this.serviceErrors > 0) {
      this.serviceErrors--;
      this.#error(socket, stream, 'ServiceError', `Publish to topic ${request.topicName} failed: spooler queue is full`);
      return;
    }
    this.published.push({ topic: request.topicName, payload: Buffer.from(request.payload ?? '', 'base64'), qos: request.qos, connection, stream });
    for (const w of this.#waiters.splice(0)) w();
    this.#send(socket, MessageType.ApplicationMessage, TerminateStream, stream, {
      ':content-type': str('application/json'),
      'service-model-type': str('aws.greengrass#PublishToIoTCoreResponse'),
    }, json({}));
  }

  #error(socket: Socket, stream: number, code: string, message: string): void {
    this.#send(socket, MessageType.ApplicationError, TerminateStream, stream, {
      ':content-type': str('application/json'),
      'service-model-type': str(`aws.greengrass#${code}`),
    }, json({ _service: 'aws.greengrass#GreengrassCoreIPC', _message: message, _errorCode: code, message }));
  }

  #send(socket: Socket, type: number, flags: number, stream: number, headers: MessageHeaders, body: Uint8Array): void {
    if (socket.destroyed) return;
    const frame = codec.encode({
      headers: { ...headers, ':message-type': int(type), ':message-flags': int(flags), ':stream-id': int(stream) },
      body,
    });
    socket.write(frame);
  }
}

const int = (value: number) => ({ type: 'integer' as const, value });
const str = (value: string) => ({ type: 'string' as const, value });
const json = (value: unknown) => new Uint8Array(Buffer.from(JSON.stringify(value)));

function intHeader(headers: MessageHeaders, name: string): number | undefined {
  const h = headers[name];
  return h && h.type === 'integer' ? h.value : undefined;
}

function stringHeader(headers: MessageHeaders, name: string): string | undefined {
  const h = headers[name];
  return h && h.type === 'string' ? h.value : undefined;
}
