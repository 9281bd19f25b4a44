// The embedded broker against hostile clients, with real aedes and real mqtt.js clients: who may
// connect, publish and subscribe, how large a packet may be, how much an absent persistent
// session may hold, and the TLS listener.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { BrokerAccess, type AnonymousAccess } from '../../src/publish/broker-access.js';
import { compileUsers } from '../../src/publish/broker-users.js';
import { EmbeddedBroker, type EmbeddedBrokerTls } from '../../src/publish/embedded-broker.js';
import { hashPassword } from '../../src/publish/password-hash.js';
import type { MqttUserConfig } from '../../src/config/schema.js';
import { makeCerts, subscribe } from '../helpers/brokers.js';

const prefix = 'linesight/v1';
const verdictTopic = `${prefix}/L1/cam1/verdict`;
const trigger1 = `${prefix}/L1/cam1/trigger`;
const trigger2 = `${prefix}/L1/cam2/trigger`;
type T = { after: (fn: () => void | Promise<void>) => void };

// Cheap scrypt parameters: the tests check the logic, not the cost.
const hash = (pw: string) => hashPassword(pw, { N: 1024 });

async function users(): Promise<MqttUserConfig[]> {
  return [
    { username: 'scada', password: await hash('scada-pw'), role: 'reader', subscribe: ['#'], publish: [] },
    { username: 'plc', password: await hash('plc-pw'), role: 'trigger', cameras: ['cam1'], subscribe: ['#'], publish: [] },
    { username: 'hmi', password: await hash('hmi-pw'), role: 'reader', subscribe: [`${prefix}/L1/cam1/#`], publish: ['hmi/#'] },
  ];
}

async function startBroker(t: T, options: { anonymous?: AnonymousAccess; noUsers?: boolean; maxQueuedPerClient?: number; tls?: EmbeddedBrokerTls } = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', format: 'json', write: (l) => lines.push(l) });
  const access = new BrokerAccess({
    users: compileUsers([{ origin: 'test', users: options.noUsers ? [] : await users() }]),
    anonymous: options.anonymous ?? 'off',
    topicPrefix: prefix,
    triggerTopics: new Map([
      [trigger1, 'cam1'],
      [trigger2, 'cam2'],
    ]),
  });
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, access, log, ...options });
  await broker.start();
  t.after(() => broker.stop());
  const logged = (code: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.code === code);
  return { broker, lines, logged, service: broker.serviceCredentials };
}

async function connect(t: T, url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  t.after(() => c.endAsync(true));
  return c;
}

/** The CONNACK error code of a refused connection (5: not authorized). */
async function refusedCode(url: string, options: IClientOptions = {}): Promise<number | string> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...options });
    await c.endAsync(true);
    return 'connected';
  } catch (err) {
    return (err as { code: number }).code;
  }
}

test('with users configured, a client without credentials, an unknown user and a wrong password get CONNACK "not authorized"; users and the service connect', async (t) => {
  const { broker, logged, service } = await startBroker(t);
  assert.equal(await refusedCode(broker.url), 5);
  assert.equal(await refusedCode(broker.url, { username: 'nobody', password: 'x' }), 5);
  assert.equal(await refusedCode(broker.url, { username: 'scada', password: 'wrong' }), 5);
  assert.equal(await refusedCode(broker.url, { username: service.username, password: 'guess' }), 5);
  assert.equal(await refusedCode(broker.url, { username: 'scada', password: 'scada-pw' }), 'connected');
  assert.equal(await refusedCode(broker.url, service), 'connected');
  assert.equal(broker.refusals.connect, 4);
  // Rate-limited: the first refusal is logged at once, the rest are counted for the summary.
  assert.equal(logged('LS_ERR_MQTT_NOT_AUTHORIZED').length, 1);
});

test('forged verdicts from a reader and from an anonymous client are dropped (a subscriber sees nothing); the service still publishes', async (t) => {
  const { broker, logged, service } = await startBroker(t, { anonymous: 'reader' });
  const watcher = await subscribe(t, broker.url, `${prefix}/#`, { connect: { username: 'scada', password: 'scada-pw' } });
  const reader = await connect(t, broker.url, { username: 'scada', password: 'scada-pw' });
  const anon = await connect(t, broker.url);
  const trig = await connect(t, broker.url, { username: 'plc', password: 'plc-pw' });
  // Acknowledged (QoS 1) and dropped, as Mosquitto does: the clients stay connected.
  await reader.publishAsync(verdictTopic, '{"verdict":"pass","forged":"reader"}', { qos: 1 });
  await anon.publishAsync(verdictTopic, '{"verdict":"pass","forged":"anonymous"}', { qos: 1, retain: true });
  await trig.publishAsync(`${prefix}/L1/cam1/status`, 'online', { qos: 1 });
  await anon.publishAsync(trigger1, 'ANON-1', { qos: 1 });
  await reader.publishAsync(trigger1, 'READER-1', { qos: 1 });
  assert.ok(reader.connected && anon.connected && trig.connected);
  const svc = await connect(t, broker.url, service);
  await svc.publishAsync(verdictTopic, '{"verdict":"fail","real":true}', { qos: 1 });
  await watcher.next((m) => m.payload.includes('"real":true'));
  assert.deepEqual(
    watcher.messages.map((m) => m.payload),
    ['{"verdict":"fail","real":true}'],
  );
  assert.equal(broker.refusals.publish, 5);
  assert.equal(logged('LS_ERR_MQTT_FORBIDDEN').length, 1);
  // No retained forgery either: a new subscriber gets nothing retained.
  const late = await subscribe(t, broker.url, verdictTopic, { connect: { username: 'scada', password: 'scada-pw' } });
  await svc.publishAsync(verdictTopic, 'marker', { qos: 1 });
  await late.next((m) => m.payload === 'marker');
  assert.deepEqual(late.messages.map((m) => m.payload), ['marker']);
});

test('triggers: the trigger user may announce parts for its own cameras only; readers and anonymous readers may not', async (t) => {
  const { broker, service } = await startBroker(t, { anonymous: 'reader' });
  const station = await subscribe(t, broker.url, `${prefix}/L1/+/trigger`, { connect: service });
  const plc = await connect(t, broker.url, { username: 'plc', password: 'plc-pw' });
  const scada = await connect(t, broker.url, { username: 'scada', password: 'scada-pw' });
  await scada.publishAsync(trigger1, 'FORGED-1', { qos: 1 });
  await plc.publishAsync(trigger2, 'OTHER-CAMERA-1', { qos: 1 });
  await plc.publishAsync(trigger1, 'P-1', { qos: 1 });
  await station.next((m) => m.payload === 'P-1');
  assert.deepEqual(station.messages.map((m) => m.payload), ['P-1']);
  assert.equal(broker.refusals.publish, 2);
});

test('a subscription outside what a user may read gets SUBACK 0x80; allowed ones are granted', async (t) => {
  const { broker } = await startBroker(t);
  const hmi = await connect(t, broker.url, { username: 'hmi', password: 'hmi-pw' });
  // mqtt.js rejects a SUBACK with any failure; the packet it carries has every return code.
  const suback = await hmi.subscribeAsync(['#', `${prefix}/L1/cam1/verdict`, `${prefix}/L1/cam2/verdict`, '$SYS/#'], { qos: 1 }).then(
    () => assert.fail('expected a SUBACK with failures'),
    (err: { packet: { granted: number[] } }) => err.packet,
  );
  assert.deepEqual(suback.granted, [128, 1, 128, 128]);
  assert.equal(broker.refusals.subscribe, 3);
  // Its extra publish rule works outside the prefix, and nowhere else.
  await hmi.publishAsync('hmi/screen', 'x', { qos: 1 });
  assert.equal(broker.refusals.publish, 0);
});

test('with no users, anonymous clients may subscribe and announce parts (the out-of-box demo), never publish verdicts; a loud warning says so', async (t) => {
  const { broker, lines, service } = await startBroker(t, { noUsers: true, anonymous: 'trigger' });
  assert.ok(lines.some((l) => l.includes('ACCEPTS CLIENTS WITHOUT A PASSWORD')));
  const watcher = await subscribe(t, broker.url, `${prefix}/#`);
  const anon = await connect(t, broker.url);
  await anon.publishAsync(verdictTopic, 'forged', { qos: 1 });
  await anon.publishAsync(trigger1, 'P-1', { qos: 1 });
  const svc = await connect(t, broker.url, service);
  await svc.publishAsync(verdictTopic, 'real', { qos: 1 });
  await watcher.next((m) => m.payload === 'real');
  assert.deepEqual(watcher.messages.map((m) => m.payload), ['P-1', 'real']);
});

test('a client sending a 1 MB packet is disconnected before the body is read, and it is logged and counted', async (t) => {
  const { broker, logged } = await startBroker(t, { anonymous: 'trigger', noUsers: true });
  const watcher = await subscribe(t, broker.url, trigger1);
  const big = await connect(t, broker.url);
  const closed = new Promise<void>((r) => big.once('close', () => r()));
  big.publish(trigger1, Buffer.alloc(1024 * 1024, 0x41), { qos: 0 });
  await closed;
  assert.equal(broker.refusals['packet-too-large'], 1);
  const [entry] = logged('LS_ERR_MQTT_PACKET_TOO_LARGE');
  assert.ok(entry && Number(entry.bytes) > 1024 * 1024, JSON.stringify(entry));
  // Under the limit is fine, and the broker carries on.
  const small = await connect(t, broker.url);
  await small.publishAsync(trigger1, Buffer.alloc(60 * 1024, 0x42), { qos: 1 });
  await watcher.next((m) => m.payload.length === 60 * 1024);
  assert.equal(watcher.messages.length, 1);
});

test('an absent persistent session keeps at most maxQueuedPerClient messages: the oldest are dropped and counted, the newest arrive in order', async (t) => {
  const { broker, logged, service } = await startBroker(t, { maxQueuedPerClient: 20 });
  const login = { username: 'scada', password: 'scada-pw' };
  const gateway = await mqtt.connectAsync(broker.url, { clientId: 'plc-gateway', clean: false, reconnectPeriod: 0, ...login });
  await gateway.subscribeAsync(verdictTopic, { qos: 1 });
  await gateway.endAsync();
  const svc = await connect(t, broker.url, service);
  for (let i = 0; i < 50; i++) await svc.publishAsync(verdictTopic, `V-${i}`, { qos: 1 });
  assert.deepEqual(broker.queues(), [{ queue: 'broker-session', depth: 20, capacity: 20, dropped: { 'full-oldest': 30 } }]);
  assert.equal(logged('LS_ERR_MQTT_QUEUE_FULL').length, 1);

  const got: string[] = [];
  const back = mqtt.connect(broker.url, { clientId: 'plc-gateway', clean: false, reconnectPeriod: 0, ...login });
  t.after(() => back.endAsync(true));
  await new Promise<void>((resolve) =>
    back.on('message', (_topic, payload) => {
      got.push(payload.toString());
      if (got.length === 20) resolve();
    }),
  );
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `V-${30 + i}`));
  await new Promise((r) => setImmediate(r));
  assert.equal(broker.queues()[0]!.depth, 0);
});

test('TLS listener: a client with a certificate from the CA connects; one without a certificate, or trusting another CA, does not', async (t) => {
  const certs = makeCerts(t);
  const { broker, service } = await startBroker(t, {
    tls: { port: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true },
  });
  assert.match(broker.tlsUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
  const ca = readFileSync(certs.ca);
  const withCert = { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
  // Authentication still applies over TLS.
  assert.equal(await refusedCode(broker.tlsUrl, withCert), 5);
  const c = await connect(t, broker.tlsUrl, { ...withCert, ...service });
  assert.ok(c.connected);
  assert.notEqual(await refusedCode(broker.tlsUrl, { ca, ...service }), 'connected');
  assert.notEqual(await refusedCode(broker.tlsUrl, { ...withCert, ca: readFileSync(certs.otherCa), ...service }), 'connected');
});
