// A real OPC UA client (node-opcua) for tests: its own PKI folder and application certificate,
// optionally trusted by the server (copied into the server's trusted/certs, as an engineer would),
// SignAndEncrypt with Basic256Sha256 by default, user name and password.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import {
  AttributeIds,
  ClientMonitoredItem,
  ClientSubscription,
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  constructEventFilter,
  type ClientSession,
  type Variant,
  type DataValue,
  type UserIdentityInfo,
} from 'node-opcua-client';
import { tempDir } from './env.js';

export interface OpcUaTestClientOptions {
  endpoint: string;
  /** Server's PKI folder: when given, this client's certificate is put in its trusted/certs. */
  trustIn?: string;
  user?: { username: string; password: string } | 'anonymous';
  policy?: SecurityPolicy;
  mode?: MessageSecurityMode;
  /** A PKI folder to reuse (same certificate across clients). */
  pki?: string;
}

/** Makes the client's certificate without connecting; returns the PEM path. */
export async function makeClient(t: TestContext, o: OpcUaTestClientOptions): Promise<{ client: OPCUAClient; certificate: string }> {
  const pki = o.pki ?? tempDir(t, 'opcua-client-pki-');
  // The client trusts the server it was pointed at (the test's loopback server).
  const cm = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true, keySize: 2048 });
  const client = OPCUAClient.create({
    applicationName: 'linesight-test-client',
    applicationUri: 'urn:linesight:test-client',
    clientCertificateManager: cm,
    securityMode: o.mode ?? MessageSecurityMode.SignAndEncrypt,
    securityPolicy: o.policy ?? SecurityPolicy.Basic256Sha256,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 20_000,
    keepSessionAlive: false,
  });
  await cm.initialize();
  await client.createDefaultCertificate();
  const certificate = join(pki, 'own', 'certs', readdirSync(join(pki, 'own', 'certs')).find((f) => f.endsWith('.pem'))!);
  if (o.trustIn) {
    mkdirSync(join(o.trustIn, 'trusted', 'certs'), { recursive: true });
    copyFileSync(certificate, join(o.trustIn, 'trusted', 'certs', 'linesight-test-client.pem'));
  }
  t.after(async () => {
    await client.disconnect().catch(() => undefined);
    await cm.dispose();
  });
  return { client, certificate };
}

export function identity(user: OpcUaTestClientOptions['user']): UserIdentityInfo {
  if (!user || user === 'anonymous') return { type: UserTokenType.Anonymous };
  return { type: UserTokenType.UserName, userName: user.username, password: user.password };
}

/** Connects and opens a session; throws what the server answered. */
export async function connect(t: TestContext, o: OpcUaTestClientOptions): Promise<{ client: OPCUAClient; session: ClientSession }> {
  const { client } = await makeClient(t, o);
  await client.connect(o.endpoint);
  const session = await client.createSession(identity(o.user));
  t.after(() => session.close().catch(() => undefined));
  return { client, session };
}

export interface Notification {
  node: string;
  value: unknown;
  sourceTimestamp: Date | null;
}

/** A started subscription publishing every `publishingIntervalMs`. */
async function subscribe(session: ClientSession, publishingIntervalMs: number): Promise<ClientSubscription> {
  const subscription = ClientSubscription.create(session, {
    requestedPublishingInterval: publishingIntervalMs,
    requestedLifetimeCount: 600,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 1,
  });
  await new Promise<void>((resolve) => subscription.once('started', () => resolve()));
  return subscription;
}

/**
 * Subscribes to `nodes` with a queue big enough to keep every change between two publishes
 * (exception-based sampling), recording each notification in arrival order.
 */
export async function monitor(session: ClientSession, nodes: string[], options: { publishingIntervalMs?: number; queueSize?: number } = {}) {
  const subscription = await subscribe(session, options.publishingIntervalMs ?? 50);
  const received: Notification[] = [];
  const listeners = new Set<(n: Notification) => void>();
  const ready: Array<Promise<void>> = [];
  for (const node of nodes) {
    const item = ClientMonitoredItem.create(
      subscription,
      { nodeId: node, attributeId: AttributeIds.Value },
      { samplingInterval: 0, discardOldest: false, queueSize: options.queueSize ?? 1000 },
      TimestampsToReturn.Both,
    );
    item.on('changed', (dv: DataValue) => {
      const n = { node, value: dv.value.value, sourceTimestamp: dv.sourceTimestamp };
      received.push(n);
      for (const l of listeners) l(n);
    });
    ready.push(new Promise((resolve, reject) => (item.once('initialized', () => resolve()), item.once('err', (e: unknown) => reject(new Error(String(e)))))));
  }
  // Every item is created on the server (and has sent its first value) before the caller goes on.
  await Promise.all(ready);
  return { subscription, received, onChange: (fn: (n: Notification) => void) => listeners.add(fn) };
}

export interface ReceivedEvent {
  /** The notifier the event arrived through (station, line, Server). */
  notifier: string;
  fields: Record<string, unknown>;
}

/**
 * Subscribes to events on each of `notifiers` (objects with SubscribeToEvents), selecting `fields`
 * (browse paths as constructEventFilter takes them; "ConditionId" is the condition's node id).
 */
export async function monitorEvents(session: ClientSession, notifiers: string[], fields: string[]) {
  const subscription = await subscribe(session, 50);
  const received: ReceivedEvent[] = [];
  const ready: Array<Promise<void>> = [];
  for (const notifier of notifiers) {
    const item = ClientMonitoredItem.create(
      subscription,
      { nodeId: notifier, attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, discardOldest: false, queueSize: 100, filter: constructEventFilter(fields) },
      TimestampsToReturn.Neither,
    );
    item.on('changed', (values: Variant[]) => {
      received.push({ notifier, fields: Object.fromEntries(fields.map((f, i) => [f, values[i]?.value])) });
    });
    ready.push(new Promise((resolve, reject) => (item.once('initialized', () => resolve()), item.once('err', (e: unknown) => reject(new Error(String(e)))))));
  }
  await Promise.all(ready);
  return { subscription, received };
}
