// The MQTT trigger against a real Mosquitto: triggers sent while the broker restarts, while only
// the trigger's connection is down, or while Linesight itself restarts all arrive, each once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { MqttTrigger } from '../../src/capture/mqtt-trigger.js';
import { RedeliveryFilter } from '../../src/capture/redelivery.js';
import { MAX_TRIGGER_PAYLOAD_BYTES, parseTriggerPayload, type TriggerEvent, type TriggerHealth } from '../../src/capture/trigger.js';
import { silentLogger } from '../../src/log.js';
import { startMosquitto } from '../helpers/brokers.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { recorder } from '../helpers/recorder.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const topic = 'linesight/v1/L1/cam1/trigger';

/** What a station would see: every event, and a way to wait for a condition on them. */
function station() {
  const r = recorder<TriggerEvent>();
  return { events: r.items, fire: r.push, until: r.until, ids: () => r.items.map((e) => e.partId!) };
}

/** A PLC gateway announcing a part every `periodMs` at QoS 1, with ids P-0, P-1, ... */
function plc(client: MqttClient, periodMs: number) {
  const sent: string[] = [];
  const acks: Array<Promise<unknown>> = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  const timer = setInterval(() => {
    const id = `P-${sent.length}`;
    sent.push(id);
    acks.push(client.publishAsync(topic, id, { qos: 1 }));
    const due = waiters.filter((w) => sent.length >= w.n);
    waiters = waiters.filter((w) => !due.includes(w));
    for (const w of due) w.resolve();
  }, periodMs);
  return {
    sent,
    /** Resolves once `n` triggers have been sent in all. */
    reached: (n: number) => new Promise<void>((resolve) => (sent.length >= n ? resolve() : waiters.push({ n, resolve }))),
    /** Stops sending and waits until the broker has acknowledged every trigger. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await Promise.all(acks);
    },
  };
}

function assertEachOnce(sent: string[], got: string[]): void {
  const counts = new Map<string, number>();
  for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
  const lost = sent.filter((id) => !counts.has(id));
  const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(lost, [], `triggers lost: ${lost.join(', ')}`);
  assert.deepEqual(twice, [], `parts triggered twice: ${twice.join(', ')}`);
  assert.equal(got.length, sent.length);
}

test('redelivery filter: a broker resend (DUP, same packet id) and a publisher resend (same part id, within the window) are repeats', () => {
  const clock = new FakeClock();
  const f = new RedeliveryFilter({ clock, windowMs: 60_000 });
  const msg = (messageId: number, payload: string, dup = false) => ({ messageId, dup, payload: Buffer.from(payload), partId: payload || undefined });
  assert.equal(f.check(msg(1, 'A')), undefined);
  assert.equal(f.check(msg(1, 'A', true)), 'packet');
  // Same packet id, no DUP: the broker reused the id for a new message.
  assert.equal(f.check(msg(1, 'B')), undefined);
  // Parts without an id: only the packet tells a resend from a new part.
  assert.equal(f.check(msg(2, '')), undefined);
  assert.equal(f.check(msg(2, '', true)), 'packet');
  assert.equal(f.check(msg(3, '')), undefined);
  // A DUP whose first copy never arrived is a new part.
  assert.equal(f.check(msg(4, 'C', true)), undefined);
  // The publisher resent A: new packet id, same part id.
  assert.equal(f.check(msg(9, 'A')), 'part');
  clock.advance(60_000);
  assert.equal(f.check(msg(10, 'A')), undefined, 'after the window the same id is a new part');
  // A fresh session starts packet ids over: nothing from before is resent.
  f.newSession();
  assert.equal(f.check(msg(2, 'D', true)), undefined);

  const off = new RedeliveryFilter({ clock, windowMs: 0 });
  assert.equal(off.check(msg(1, 'A')), undefined);
  assert.equal(off.check(msg(2, 'A')), undefined);
  assert.equal(off.check(msg(1, 'A', true)), 'packet');
});

test('triggers sent while the broker restarts (with persistence) all arrive, each once', async (t) => {
  const broker = await startMosquitto(t, { persistent: true });
  const got = station();
  const health: TriggerHealth[] = [];
  const trigger = new MqttTrigger({ url: broker.url, topic, clientId: 'linesight-L1-cam1-trigger', log: silentLogger, onHealthChange: (h) => health.push(h) });
  await trigger.start(got.fire);
  t.after(() => trigger.stop());
  assert.equal(trigger.health().ok, true);
  const client = await mqtt.connectAsync(broker.url, { clientId: 'plc-gateway', reconnectPeriod: 100 });
  t.after(() => client.endAsync(true));
  const gateway = plc(client, 50);

  await got.until(() => got.events.length >= 20, '20 triggers before the restart');
  await broker.stop();
  // The gateway keeps announcing parts while the broker is away; it reconnects well before the
  // trigger client (100 ms against 1 s), so the broker holds these for the trigger's session.
  await gateway.reached(gateway.sent.length + 20);
  await broker.restart();
  const afterRestart = gateway.sent.length;
  await gateway.reached(afterRestart + 40);
  await gateway.stop();
  await got.until(() => new Set(got.ids()).size >= gateway.sent.length, 'every trigger');

  assertEachOnce(gateway.sent, got.ids());
  assert.ok(health.some((h) => !h.ok), 'health went red while the broker was down');
  assert.equal(trigger.health().ok, true);
});

test("triggers sent while only the trigger's connection is down all arrive, each once, also those whose ack was lost", async (t) => {
  const broker = await startMosquitto(t);
  const network = await startTcpProxy(t, { port: broker.port });
  const got = station();
  const trigger = new MqttTrigger({ url: network.url, topic, clientId: 'linesight-L1-cam1-trigger', log: silentLogger });
  await trigger.start(got.fire);
  t.after(() => trigger.stop());
  const client = await mqtt.connectAsync(broker.url, { clientId: 'plc-gateway' });
  t.after(() => client.endAsync(true));
  const gateway = plc(client, 50);

  await got.until(() => got.events.length >= 20, '20 triggers before the blip');
  // The trigger still gets triggers but its acks are lost, then the link drops: the broker must
  // resend the unacknowledged ones (DUP), which the station already has.
  network.swallowUpstream(true);
  const beforeSwallow = got.events.length;
  await got.until(() => got.events.length >= beforeSwallow + 5, 'triggers whose acks are lost');
  network.refuse(true);
  network.cut();
  network.swallowUpstream(false);
  await gateway.reached(gateway.sent.length + 20);
  assert.equal(trigger.health().ok, false);
  network.refuse(false);
  await gateway.reached(gateway.sent.length + 40);
  await gateway.stop();
  await got.until(() => new Set(got.ids()).size >= gateway.sent.length, 'every trigger');

  assertEachOnce(gateway.sent, got.ids());
  // The resends were there, and were recognised by their packet (DUP flag, same packet id).
  assert.ok(trigger.counters.repeats.packet > 0, `the broker resent unacknowledged triggers: ${JSON.stringify(trigger.counters)}`);
  assert.equal(trigger.health().ok, true);
});

test('triggers sent while Linesight restarts reach the next run; retained copies and topics of an older configuration are not parts', async (t) => {
  const broker = await startMosquitto(t);
  const clientId = 'linesight-L1-cam1-trigger';
  const first = station();
  const before = new MqttTrigger({ url: broker.url, topic, clientId, log: silentLogger });
  await before.start(first.fire);
  const client = await mqtt.connectAsync(broker.url, { clientId: 'plc-gateway' });
  t.after(() => client.endAsync(true));
  await client.publishAsync(topic, 'A-0', { qos: 1 });
  await first.until(() => first.events.length === 1, 'the first trigger');
  await before.stop();

  // Linesight is down: the broker keeps these for the stored session.
  for (let i = 1; i <= 10; i++) await client.publishAsync(topic, JSON.stringify({ partId: `A-${i}`, sentAt: 1_767_225_600_000 + i }), { qos: 1 });
  await client.publishAsync(topic, 'RETAINED-1', { qos: 1, retain: true });

  const second = station();
  const after = new MqttTrigger({ url: broker.url, topic, clientId, log: silentLogger });
  await after.start(second.fire);
  t.after(() => after.stop());
  await client.publishAsync(topic, 'A-11', { qos: 1 });
  await second.until(() => second.ids().includes('A-11'), 'the trigger sent after the restart');
  // The retained copy that a (re)subscription hands out is stale; the queued one was live.
  assert.deepEqual(second.ids(), ['A-1', 'A-2', 'A-3', 'A-4', 'A-5', 'A-6', 'A-7', 'A-8', 'A-9', 'A-10', 'RETAINED-1', 'A-11']);
  assert.equal(second.events[0]!.sentWall, 1_767_225_600_001);
  await after.stop();

  // The station's trigger topic changed: the stored session still holds the old subscription.
  const third = station();
  const moved = new MqttTrigger({ url: broker.url, topic: `${topic}-new`, clientId, log: silentLogger });
  await moved.start(third.fire);
  t.after(() => moved.stop());
  await client.publishAsync(topic, 'OLD-TOPIC-1', { qos: 1 });
  await client.publishAsync(`${topic}-new`, 'B-1', { qos: 1 });
  await third.until(() => third.ids().includes('B-1'), 'the trigger on the new topic');
  assert.deepEqual(third.ids(), ['B-1']);
});

test('hostile trigger payloads: each message is still a part (no id), and each problem is counted by reason', async (t) => {
  const broker = await startMosquitto(t);
  const got = station();
  const trigger = new MqttTrigger({ url: broker.url, topic, clientId: 'linesight-L1-cam1-trigger', log: silentLogger });
  await trigger.start(got.fire);
  t.after(() => trigger.stop());
  const client = await mqtt.connectAsync(broker.url, { clientId: 'plc-gateway' });
  t.after(() => client.endAsync(true));
  const hostile: Array<[string, Buffer | string]> = [
    ['1 MB payload', Buffer.alloc(1024 * 1024, 0x41)],
    ['binary, not UTF-8', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])],
    ['malformed JSON', '{"partId": "SN-1",'],
    ['truncated JSON', '{]'],
    ['100 KB part id', JSON.stringify({ partId: 'X'.repeat(100 * 1024) })],
    ['part id over 128 characters', 'Y'.repeat(129)],
    ['part id with spaces', JSON.stringify({ partId: 'SN 1' })],
  ];
  for (const [, payload] of hostile) await client.publishAsync(topic, payload, { qos: 1 });
  await client.publishAsync(topic, 'SN-OK', { qos: 1 });
  await got.until(() => got.events.length === hostile.length + 1, 'a part per message');
  assert.deepEqual(
    got.events.map((e) => e.partId),
    [...hostile.map(() => undefined), 'SN-OK'],
  );
  assert.deepEqual(trigger.stats().rejectedPayloads, { 'too-large': 2, 'not-utf8': 1, 'bad-json': 2, 'bad-part-id': 2 });
  assert.equal(trigger.stats().fired, hostile.length + 1);
});

test('trigger payload parsing: caps, encodings and what is kept', () => {
  assert.deepEqual(parseTriggerPayload(Buffer.from('SN-1')), { partId: 'SN-1' });
  assert.deepEqual(parseTriggerPayload(Buffer.from('  ')), {});
  assert.equal(parseTriggerPayload(Buffer.alloc(MAX_TRIGGER_PAYLOAD_BYTES + 1, 0x41)).reason, 'too-large');
  assert.equal(parseTriggerPayload(Buffer.from(JSON.stringify({ partId: 'Z'.repeat(128) }))).partId, 'Z'.repeat(128));
  assert.equal(parseTriggerPayload(Buffer.from([0x53, 0x4e, 0xe9])).reason, 'not-utf8');
  assert.equal(parseTriggerPayload(Buffer.from('{"partId":null}')).reason, undefined);
  assert.equal(parseTriggerPayload(Buffer.from('null')).partId, 'null');
  // A bad timestamp is reported but the id is kept.
  const late = parseTriggerPayload(Buffer.from('{"partId":"SN-2","sentAt":"yesterday"}'));
  assert.equal(late.partId, 'SN-2');
  assert.equal(late.reason, 'bad-sent-at');
});
