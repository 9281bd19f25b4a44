// The Greengrass wire of the cloud publisher: under a Greengrass nucleus the device certificate is
// the nucleus's, so Linesight asks the nucleus to publish for it over its IPC (event-stream RPC on
// a Unix socket, aws.greengrass#PublishToIoTCore, QoS 1) instead of opening a second connection
// with a certificate of its own. The drain above (cloud-publisher.ts) is the MQTT wire's.
//
// What an answer means (aws-greengrass-nucleus, MqttProxyIPCAgent): the response comes once the
// nucleus's MQTT client took the message (sent, or in its spooler while IoT Core is away), not
// with IoT Core's PUBACK; from then on it is the nucleus's to deliver. UnauthorizedError: the
// component's accessControl does not allow this topic (quarantine: it never will). ServiceError:
// the nucleus cannot take it now (its spooler is full during a long outage): hold back, keep it.
// Anything else from the SDK (the socket closed, the stream failed) is the connection's: it is
// closed, and what was in flight goes back to the outbox.
//
// The SDK (aws-iot-device-sdk-v2, on aws-crt's native event-stream client) is loaded only when
// this transport is chosen, so a box on the MQTT wire never loads the native module.
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { CloudConnection, CloudConnectionEvents, CloudTransport, SendOutcome } from './cloud-transport.js';
import type { OutboxMessage } from './outbox.js';

export interface GreengrassIpcTransportOptions {
  /** The nucleus's IPC socket (AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT). */
  socketPath: string;
  /** This component's token (SVCUID), sent in the connect message. */
  authToken: string;
  /** No ConnectAck within this: the attempt fails (and is retried with backoff). */
  connectTimeoutMs?: number;
  clock?: Clock;
}

type Sdk = typeof import('aws-iot-device-sdk-v2');
type IpcClient = ReturnType<Sdk['greengrasscoreipc']['createClient']>;

let libraries: Promise<Sdk> | undefined;
const load = () => (libraries ??= import('aws-iot-device-sdk-v2'));

/** The SDK's RpcError, as far as this file reads it. */
interface RpcErrorLike {
  type?: number;
  description?: string;
  serviceError?: { _errorCode?: string; _message?: string; message?: string };
  internalError?: unknown;
}

export class GreengrassIpcTransport implements CloudTransport {
  readonly name = 'cloud-greengrass-ipc';
  readonly target: string;
  readonly #o: GreengrassIpcTransportOptions;
  readonly #clock: Clock;

  constructor(options: GreengrassIpcTransportOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.target = `greengrass-ipc:${options.socketPath}`;
  }

  connect(events: CloudConnectionEvents): CloudConnection {
    let over = false;
    let client: IpcClient | undefined;
    let timer: TimerHandle | undefined;
    let rpc: { serviceError: number; validationError: number } | undefined;
    let qos: string | undefined;
    const finish = () => {
      over = true;
      timer?.cancel();
      const c = client;
      client = undefined;
      return c ? c.close().catch(() => undefined) : Promise.resolve();
    };
    const close = (reason: string) => {
      if (over) return;
      void finish();
      events.closed(reason);
    };
    // The SDK closes its client itself after a disconnection or a failed connect.
    const selfClosed = (reason: string) => {
      client = undefined;
      close(reason);
    };

    void (async () => {
      const sdk = await load();
      if (over) return;
      const { io, greengrasscoreipc, eventstream_rpc } = sdk;
      rpc = { serviceError: eventstream_rpc.RpcErrorType.ServiceError, validationError: eventstream_rpc.RpcErrorType.ValidationError };
      qos = greengrasscoreipc.model.QOS.AT_LEAST_ONCE;
      const timeoutMs = this.#o.connectTimeoutMs ?? 10_000;
      const authToken = this.#o.authToken;
      client = greengrasscoreipc.createClient({
        hostName: this.#o.socketPath,
        port: 0,
        socketOptions: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.LOCAL, timeoutMs),
        // What the SDK's default config does with SVCUID, from config instead of process.env.
        connectTransform: async ({ message }) => ({ ...message, payload: JSON.stringify({ authToken }) }),
      });
      client.on('disconnection', (e) => selfClosed(`the nucleus closed the IPC connection${e?.reason ? ` (${describe(e.reason)})` : ''}`));
      timer = this.#clock.setTimer(timeoutMs, () => close(`no answer from the nucleus's IPC in ${timeoutMs} ms`));
      await client.connect();
      timer.cancel();
      if (!over) events.open({});
    })().catch((err: unknown) => selfClosed(`cannot connect to the nucleus's IPC at ${this.#o.socketPath}: ${describe(err)}`));

    return {
      send: (m: OutboxMessage, settled: (outcome: SendOutcome) => void) => {
        const c = client;
        if (over || !c || !qos) return;
        // No cancel controller: cancelling an operation while the SDK is still activating its
        // stream rejects a promise nobody listens to yet (an unhandled rejection). Operations left
        // waiting when the socket goes never settle; this connection's callbacks ignore them, and
        // they are collected with the closed client.
        c.publishToIoTCore({ topicName: m.topic, qos: qos as never, payload: m.payload }).then(
          () => {
            if (!over) settled({ kind: 'acked' });
          },
          (err: unknown) => {
            if (over) return;
            const outcome = classify(err as RpcErrorLike, m.topic, rpc!);
            if (outcome) settled(outcome);
            else close(`the IPC operation failed: ${describe(err)}`);
          },
        );
      },
      end: () => finish(),
    };
  }
}

/** What the nucleus's answer means for the message; null: the connection's trouble, not the message's. */
function classify(err: RpcErrorLike, topic: string, rpc: { serviceError: number; validationError: number }): SendOutcome | null {
  if (err?.type === rpc.serviceError && err.serviceError) {
    const code = err.serviceError._errorCode ?? '';
    const text = err.serviceError.message ?? err.serviceError._message ?? code;
    if (code === 'UnauthorizedError') {
      return { kind: 'refused', reason: `the nucleus refused it: not authorized (the component's accessControl for aws.greengrass.ipc.mqttproxy does not allow aws.greengrass#PublishToIoTCore on ${topic})` };
    }
    // ServiceError (spooler full, the MQTT client refusing) or a code this file does not know: not the message's fault.
    return { kind: 'busy', reason: `the nucleus cannot take it now: ${text || 'ServiceError'}` };
  }
  // A request the SDK refuses to send, or an error shape outside PublishToIoTCore's model
  // (InvalidArgumentsError): the same message will get the same answer.
  if (err?.type === rpc.validationError) return { kind: 'refused', reason: `the IPC client refused it: ${describe(err)}` };
  const shape = /Unexpected response shape received: '([^']+)'/.exec(err?.description ?? '')?.[1];
  if (shape) return { kind: 'refused', reason: `the nucleus refused it: ${shape}` };
  return null;
}

function describe(err: unknown): string {
  const e = err as RpcErrorLike & { message?: string } | null;
  if (typeof err === 'string') return err;
  const own = e?.description ?? e?.message ?? String(err);
  const inner = e?.internalError as { message?: string; error_name?: string } | undefined;
  const cause = inner ? (inner.error_name ?? inner.message ?? String(inner)) : '';
  return cause && !own.includes(cause) ? `${own}: ${cause}` : own;
}
