// The cloud publisher through a Greengrass nucleus's IPC: the real SDK (aws-iot-device-sdk-v2 on
// aws-crt's native event-stream client) against a fake nucleus speaking the real wire
// (test/helpers/fake-nucleus-ipc.ts). The same messages the MQTT wire sends, in order per
// station; a topic the access policy does not allow is quarantined without blocking what follows;
// a full spooler holds the drain back and blames nothing; the nucleus going away and coming back
// loses nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { GreengrassIpcTransport } from '../../src/publish/cloud-greengrass-ipc.js';
import { CloudMqttPublisher } from '../../src/publish/cloud-mqtt.js';
import { CloudPublisher } from '../../src/publish/cloud-publisher.js';
import type { NewMessage, Outbox } from '../../src/publish/outbox.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import { SqliteOutbox } from '../../src/publish/outbox-sqlite.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';
import { tempDir, until } from '../helpers/env.js';
import { codeOf } from '../helpers/error-of.js';
import { FakeNucleusIpc, type IpcPolicy } from '../helpers/fake-nucleus-ipc.js';

type Ctx = { after: (fn: () => void | Promise<void>) => void };
const TOKEN = 'svcuid-of-com.linesight.Inspector';
const POLICY: IpcPolicy[] = [{ operations: ['aws.greengrass#PublishToIoTCore'], resources: ['linesight/v1/box-1/#'] }];

async function nucleus(t: Ctx, policies = POLICY): Promise<FakeNucleusIpc> {
  const n = new FakeNucleusIpc({ socketPath: join(tempDir(t, 'gg-ipc-'), 'ipc.socket'), authToken: TOKEN, policies });
  await n.start();
  // Stopped after the publisher (ipcPublisher): aws-crt's event-stream client has aborted the
  // process (a fatal assert in its connection binding) when torn down after its server went away.
  stops.set(t, () => n.stop());
  t.after(() => stops.get(t)?.());
  return n;
}
const stops = new Map<Ctx, () => Promise<void>>();

function ipcPublisher(t: Ctx, n: FakeNucleusIpc, options: { outbox?: Outbox; authToken?: string } = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
  const outbox = options.outbox ?? new MemoryOutbox();
  const p = new CloudPublisher({
    transport: new GreengrassIpcTransport({ socketPath: n.socketPath, authToken: options.authToken ?? TOKEN, connectTimeoutMs: 2000 }),
    outbox,
    reconnect: { initialMs: 50, maxMs: 200, jitter: 0.3 },
    maxAttempts: 3,
    log,
  });
  const stopNucleus = stops.get(t);
  stops.set(t, async () => {
    await p.stop(0);
    await stopNucleus?.();
  });
  return { p, outbox, lines };
}

/** Messages of two stations, interleaved, on the thing's topics: verdicts, a summary, an event. */
function messages(count: number, prefix = 'linesight/v1/box-1/L1'): NewMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const station = i % 2 ? 'cam1' : 'cam2';
    const kind = i % 10 === 9 ? 'summary' : i % 10 === 4 ? 'event' : 'verdict';
    const topic = kind === 'verdict' ? `${prefix}/${station}/verdict/fail` : kind === 'event' ? `${prefix}/${station}/event/camera-state` : `${prefix}/${station}/summary`;
    const cls = kind === 'verdict' ? 'fail' : kind;
    return { id: `${station}-${i}`, station, class: cls, topic, payload: Buffer.from(JSON.stringify({ id: `${station}-${i}`, station, i, bytes: 'é\u0000\u00ff' })) } as NewMessage;
  });
}

const ids = (list: Array<{ payload: Buffer }>) => list.map((m) => (JSON.parse(m.payload.toString()) as { id: string }).id);

describe('cloud publisher through the Greengrass IPC', () => {
  test('every message reaches the nucleus once, in order per station, as QoS 1, byte for byte what the MQTT wire sends', async (t) => {
    const n = await nucleus(t);
    const sent = messages(60);
    const { p, outbox } = ipcPublisher(t, n);
    for (const m of sent) outbox.add(m);
    await p.start();
    await n.waitFor(60);
    await until('the outbox empty', () => outbox.stats().depth === 0, 10_000, () => [p.health(), outbox.stats()]);
    assert.equal(n.published.length, 60, 'each once');
    assert.ok(n.published.every((m) => m.qos === '1'), 'AT_LEAST_ONCE');
    assert.equal(new Set(n.published.map((m) => m.stream)).size, 60, 'one stream per operation');
    for (const station of ['cam1', 'cam2']) {
      assert.deepEqual(ids(n.published.filter((m) => m.topic.includes(`/${station}/`))), sent.filter((m) => m.station === station).map((m) => m.id), `${station} in order`);
    }
    const h = p.health();
    assert.equal(p.name, 'cloud-greengrass-ipc');
    assert.equal(h.connected, true);
    assert.equal(h.published, 60);
    assert.equal(n.accepted, 1);

    // The same outbox content over the MQTT wire to a real broker: the same topics and payloads.
    const broker = await startMosquitto(t);
    const sub = await subscribe(t, broker.url, 'linesight/#');
    const viaMqtt = new CloudMqttPublisher({ url: broker.url, thingName: 'box-1', outbox: new MemoryOutbox(), log: createLogger({ level: 'silent' }) });
    t.after(() => viaMqtt.stop(0));
    for (const m of sent) viaMqtt.outbox.add(m);
    await viaMqtt.start();
    await until('the broker got them', () => sub.messages.length >= 60);
    const key = (m: { topic: string; payload: string }) => `${m.topic} ${m.payload}`;
    assert.deepEqual(
      n.published.map((m) => key({ topic: m.topic, payload: m.payload.toString() })).sort(),
      sub.messages.map(key).sort(),
    );
  });

  test('a topic the access policy does not allow is quarantined; what follows it arrives', async (t) => {
    const n = await nucleus(t);
    const { p, outbox } = ipcPublisher(t, n);
    const ok = messages(6);
    outbox.add(ok[0]!);
    outbox.add({ id: 'other-thing', station: 'cam1', class: 'fail', topic: 'linesight/v1/box-2/L1/cam1/verdict/fail', payload: Buffer.from('{"id":"other-thing"}') });
    for (const m of ok.slice(1)) outbox.add(m);
    await p.start();
    await until('the outbox empty', () => outbox.stats().depth === 0, 10_000, () => [p.health(), outbox.stats(), n.published.length]);
    assert.deepEqual(ids(n.published).sort(), ok.map((m) => m.id).sort(), 'every allowed message, once');
    for (const station of ['cam1', 'cam2']) {
      assert.deepEqual(ids(n.published.filter((m) => m.topic.includes(`/${station}/`))), ok.filter((m) => m.station === station).map((m) => m.id), `${station} in order`);
    }
    assert.deepEqual(n.unauthorized, ['linesight/v1/box-2/L1/cam1/verdict/fail']);
    const q = outbox.listQuarantine();
    assert.deepEqual(q.map((m) => m.id), ['other-thing']);
    assert.match(q[0]!.reason, /not authorized .*accessControl.*aws\.greengrass\.ipc\.mqttproxy.*linesight\/v1\/box-2/);
    assert.equal(p.health().refused, 1);
    assert.equal(p.health().connected, true, 'a refusal is the message\'s, not the connection\'s');
    assert.equal(n.accepted, 1);
  });

  test('the spooler full (ServiceError): the drain holds back and retries; nothing is quarantined or lost', async (t) => {
    const n = await nucleus(t);
    n.serviceErrors = 3;
    const { p, outbox, lines } = ipcPublisher(t, n);
    const sent = messages(10);
    for (const m of sent) outbox.add(m);
    await p.start();
    await until('the outbox empty', () => outbox.stats().depth === 0, 10_000, () => [p.health(), outbox.stats(), n.published.length]);
    assert.equal(n.serviceErrors, 0, 'the nucleus said busy three times');
    assert.equal(outbox.stats().quarantined, 0);
    assert.deepEqual(ids(n.published).sort(), sent.map((m) => m.id).sort());
    assert.ok(lines.some((l) => l.includes('cloud: the far side is busy')));
  });

  test('the nucleus goes away and comes back: what was added meanwhile waits in the outbox and arrives, in order per station (SQLite outbox)', async (t) => {
    const n = await nucleus(t);
    const outbox = new SqliteOutbox({ path: join(tempDir(t, 'gg-outbox-'), 'outbox.db') });
    t.after(() => outbox.close());
    const { p, lines } = ipcPublisher(t, n, { outbox });
    await p.start();
    const sent = messages(200);
    for (const m of sent.slice(0, 100)) outbox.add(m);
    p.notify();
    await until('the first hundred delivered', () => outbox.stats().depth === 0, 10_000, () => [p.health(), outbox.stats()]);
    // Gone between publishes: gone with publishes in flight, the SDK's native client crashes the
    // process (aws-crt 1.33.1; scripts/repro-ipc-drop-crash.mjs), which no transport code can catch.
    await n.stop();
    await until('the loss seen', () => !p.health().connected);
    for (const m of sent.slice(100)) outbox.add(m);
    p.notify();
    await until('a failed reconnect', () => p.health().reconnects >= 1 && /cannot connect to the nucleus's IPC/.test(p.health().lastError ?? ''), 10_000, () => p.health());
    assert.ok(lines.some((l) => l.includes('cloud: connection lost')));
    assert.equal(outbox.stats().depth, 100, 'all waiting while the nucleus is away');
    await n.start();
    await until('the outbox empty', () => outbox.stats().depth === 0, 20_000, () => [p.health(), outbox.stats(), n.published.length]);
    const got = ids(n.published);
    assert.deepEqual([...got].sort(), sent.map((m) => m.id).sort(), 'every message, once');
    for (const station of ['cam1', 'cam2']) {
      assert.deepEqual(got.filter((id) => id.startsWith(station)), sent.filter((m) => m.station === station).map((m) => m.id), `${station} in order`);
    }
    assert.equal(n.accepted, 2, 'reconnected once the socket was back');
    assert.equal(outbox.stats().quarantined, 0);
  });
  // A token the nucleus refuses is not tested here: with that test in this file, 2 of 7 runs
  // aborted after every test had passed (aws-crt's fatal assert `binding->connection != NULL` in
  // its event-stream connection's shutdown callback, while the drain kept reconnecting to a
  // nucleus that refused it); 8 runs without it were clean. Not reproduced with the SDK alone.
});

describe('cloud.transport greengrass-ipc in the config', () => {
  const base = { line: 'L1', stations: [{ id: 'cam1', source: { type: 'replay', path: '.', ratePerSec: 1 }, model: 'label-orientation' }] };
  const env = { AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/greengrass/v2/ipc.socket', SVCUID: 'token-1' };

  test('the socket and the token come from the environment the nucleus sets; no URL or certificate needed', () => {
    const c = buildConfig({ ...base, cloud: { enabled: true, transport: 'greengrass-ipc' } }, { origin: 'test', baseDir: '/tmp', env });
    assert.deepEqual(c.cloud.greengrassIpc, { socketPath: '/greengrass/v2/ipc.socket', authToken: 'token-1' });
    const viaEnv = buildConfig({ ...base, cloud: { enabled: true } }, { origin: 'test', baseDir: '/tmp', env: { ...env, LINESIGHT_CLOUD_TRANSPORT: 'greengrass-ipc' } });
    assert.equal(viaEnv.cloud.transport, 'greengrass-ipc');
  });

  test('without SVCUID (not run by a nucleus): a config error naming the key and the variable', () => {
    const err = codeOf(() => buildConfig({ ...base, cloud: { enabled: true, transport: 'greengrass-ipc' } }, { origin: 'linesight.yaml', baseDir: '/tmp', env: { AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/s' } }));
    assert.match(err, /^LS_ERR_CONFIG_INVALID: .*linesight\.yaml:\n {2}cloud\.transport: got "greengrass-ipc", expected .*missing: cloud\.greengrassIpc\.authToken \(SVCUID\)\./);
    assert.doesNotMatch(err, /socketPath/);
    const neither = codeOf(() => buildConfig({ ...base, cloud: { enabled: true, transport: 'greengrass-ipc' } }, { origin: 'test', baseDir: '/tmp', env: {} }));
    assert.match(neither, /missing: cloud\.greengrassIpc\.socketPath \(AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT\), cloud\.greengrassIpc\.authToken \(SVCUID\)/);
    // Cloud off: nothing is needed.
    assert.equal(codeOf(() => buildConfig({ ...base, cloud: { enabled: false, transport: 'greengrass-ipc' } }, { origin: 'test', baseDir: '/tmp', env: {} })), 'ok');
    const bad = codeOf(() => buildConfig({ ...base, cloud: { enabled: true } }, { origin: 'test', baseDir: '/tmp', env: { LINESIGHT_CLOUD_TRANSPORT: 'ipc' } }));
    assert.match(bad, /^LS_ERR_CONFIG_INVALID: .*cloud\.transport/s);
  });
});
