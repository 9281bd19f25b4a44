// The cloud publisher against a real Mosquitto: mutual TLS (right, foreign, expired and missing
// client certificates), poison messages quarantined without blocking what follows, and an
// outage that loses nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger, silentLogger } from '../../src/log.js';
import { CloudMqttPublisher } from '../../src/publish/cloud-mqtt.js';
import { cloudTlsOptions, type CloudTls } from '../../src/publish/cloud-tls.js';
import type { NewMessage, Outbox } from '../../src/publish/outbox.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import { SqliteOutbox } from '../../src/publish/outbox-sqlite.js';
import type { Verdict } from '../../src/verdict.js';
import { makeBadClientCerts, makeCerts, startMosquitto, subscribe } from '../helpers/brokers.js';
import { tempDir, until } from '../helpers/env.js';
import { FakeClock } from '../helpers/fake-clock.js';

type Ctx = { after: (fn: () => void | Promise<void>) => void };
/** Fails only, payload the verdict JSON: enough to exercise the connection and the outbox. */
function failMessages(line: string, topicTemplate: string): (verdict: Verdict) => NewMessage[] {
  return (v) =>
    v.verdict !== 'fail'
      ? []
      : [
          {
            id: v.id,
            station: v.camera,
            class: 'fail',
            topic: topicTemplate.replaceAll('{line}', line).replaceAll('{station}', v.camera).replaceAll('{verdict}', v.verdict),
            payload: Buffer.from(JSON.stringify(v)),
          },
        ];
}

const TEMPLATE = 'linesight/v1/{line}/{station}/verdict/{verdict}';

function verdict(i: number, camera = 'cam1', kind: Verdict['verdict'] = 'fail'): Verdict {
  return {
    id: `v-${camera}-${i}`, line: 'l1', camera, partId: `p${i}`, seq: i, verdict: kind, action: kind === 'fail' ? 'reject' : 'accept',
    label: kind, score: 0.9, scores: null, model: { name: 'm', version: '1.0.0' }, budgetMs: 100, deadlineMet: true,
    timings: { queueMs: 1, preprocessMs: 1, inferenceMs: 1, totalMs: 5 }, capturedAt: null, captureTimeSource: null, decidedAt: new Date().toISOString(),
  };
}

function publisher(t: Ctx, url: string, options: { tls?: CloudTls; outbox?: Outbox; maxAttempts?: number } = {}) {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) });
  const p = new CloudMqttPublisher({
    url,
    thingName: 'box-1',
    ...(options.tls ? { tls: options.tls } : {}),
    outbox: options.outbox ?? new MemoryOutbox(),
    toMessages: failMessages('l1', TEMPLATE),
    reconnect: { initialMs: 50, maxMs: 200, jitter: 0.3, connectTimeoutMs: 2000 },
    maxAttempts: options.maxAttempts ?? 3,
    log,
  });
  t.after(() => p.stop(0));
  return { p, lines };
}


describe('cloud publisher over mutual TLS', () => {
  test('with the right client certificate every fail arrives, in order, and leaves the outbox', async (t) => {
    const certs = makeCerts(t);
    const broker = await startMosquitto(t, { tls: certs });
    const sub = await subscribe(t, broker.url, 'linesight/#');
    const tls = cloudTlsOptions({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, rejectUnauthorized: true });
    const { p } = publisher(t, broker.tlsUrl!, { tls });
    await p.start();
    for (let i = 0; i < 30; i++) p.publish(verdict(i, i % 2 ? 'cam1' : 'cam2', i % 3 === 0 ? 'pass' : 'fail'));
    const fails = [...Array(30).keys()].filter((i) => i % 3 !== 0);
    await until('all fails', () => sub.messages.length >= fails.length);
    assert.deepEqual(sub.messages.map((m) => (JSON.parse(m.payload) as Verdict).id), fails.map((i) => `v-${i % 2 ? 'cam1' : 'cam2'}-${i}`));
    assert.equal(sub.messages[0]!.topic, 'linesight/v1/l1/cam1/verdict/fail');
    await until('outbox empty', () => p.health().pending === 0);
    assert.equal(p.health().connected, true);
    assert.equal(p.health().published, fails.length);
  });

  const refusals: Array<[string, (c: ReturnType<typeof makeCerts>, bad: ReturnType<typeof makeBadClientCerts>) => CloudTls, RegExp]> = [
    ['signed by another CA', (c, bad) => cloudTlsOptions({ ca: c.ca, cert: bad.foreignCert, key: bad.foreignKey, rejectUnauthorized: true }), /refused our client certificate|does not trust the CA|closed the connection/],
    ['expired', (c, bad) => cloudTlsOptions({ ca: c.ca, cert: bad.expiredCert, key: bad.expiredKey, rejectUnauthorized: true }), /expired/],
    ['missing', (c) => cloudTlsOptions({ ca: c.ca, rejectUnauthorized: true }), /requires a client certificate|closed the connection/],
    ['with a broker the CA does not sign', (c) => cloudTlsOptions({ ca: c.otherCa, cert: c.clientCert, key: c.clientKey, rejectUnauthorized: true }), /not signed by the configured CA/],
  ];
  for (const [name, tlsOf, reason] of refusals) {
    test(`a client certificate ${name}: refused, nothing is lost, health and the log say why without secrets`, async (t) => {
      const certs = makeCerts(t);
      const bad = makeBadClientCerts(t, certs);
      const broker = await startMosquitto(t, { tls: certs });
      const sub = await subscribe(t, broker.url, 'linesight/#');
      const tls = tlsOf(certs, bad);
      const { p, lines } = publisher(t, broker.tlsUrl!, { tls });
      await p.start();
      p.publish(verdict(1));
      await until('a refusal', () => p.health().lastError !== null && lines.some((l) => l.includes('cloud: cannot connect')));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(p.health().connected, false);
      assert.match(p.health().lastError!, reason);
      assert.equal(p.health().pending, 1, 'the fail waits in the outbox');
      assert.equal(sub.messages.length, 0);
      const logged = lines.join('\n');
      assert.match(logged, reason);
      assert.doesNotMatch(logged, /BEGIN|PRIVATE/);
      if (tls.key) assert.ok(!logged.includes(tls.key.toString().split('\n')[1]!), 'no key material in the log');
    });
  }
});

describe('cloud publisher: poison messages', () => {
  test('over the size limit, on a forbidden topic, too deep a topic, over maxPayloadBytes: quarantined; what follows arrives', async (t) => {
    const broker = await startMosquitto(t, { acl: 'topic readwrite linesight/#', messageSizeLimit: 4000 });
    const sub = await subscribe(t, broker.url, 'linesight/#');
    const outbox = new MemoryOutbox();
    const { p } = publisher(t, broker.url, { outbox });
    const add = (id: string, topic: string, size = 20) => outbox.add({ id, station: 'cam1', class: 'fail', topic, payload: Buffer.from(id.padEnd(size, '.')) });
    add('ok-1', 'linesight/v1/l1/cam1/verdict/fail');
    add('too-big-for-broker', 'linesight/v1/l1/cam1/verdict/fail', 10_000);
    add('forbidden', 'elsewhere/cam1');
    add('ok-2', 'linesight/v1/l1/cam1/verdict/fail');
    add('too-deep', 'a/b/c/d/e/f/g/h/i');
    add('over-iot-limit', 'linesight/v1/l1/cam1/verdict/fail', 200_000);
    add('ok-3', 'linesight/v1/l1/cam1/verdict/fail');
    await p.start();
    await until('the good ones', () => sub.messages.length >= 3, 10_000, () => [p.health(), outbox.stats(), sub.messages.length, outbox.listQuarantine().map((q) => q.reason)]);
    await until('the outbox empty', () => outbox.stats().depth === 0, 10_000, () => [p.health(), outbox.stats(), sub.messages.length]);
    // At-least-once: acks lost with the connection the poison broke mean resends; ids dedupe them.
    assert.deepEqual([...new Set(sub.messages.map((m) => m.payload.replace(/\.+$/, '')))], ['ok-1', 'ok-2', 'ok-3']);
    const q = Object.fromEntries(outbox.listQuarantine().map((m) => [m.id, m.reason]));
    assert.deepEqual(Object.keys(q).sort(), ['forbidden', 'over-iot-limit', 'too-big-for-broker', 'too-deep']);
    assert.match(q['forbidden']!, /not authorized|0x87/);
    assert.match(q['too-big-for-broker']!, /packet too large|0x95|0x97|refused|closed/);
    assert.match(q['too-deep']!, /8 slashes, the limit is 7/);
    assert.match(q['over-iot-limit']!, /200000 bytes is over the limit of 131072/);
    assert.equal(p.health().quarantined, 4);
    // Retried, a refused message is refused again and comes back to the quarantine, not lost.
    assert.equal(outbox.retryQuarantined(['forbidden']), 1);
    p.notify();
    await until('re-quarantined', () => outbox.stats().quarantined === 4 && outbox.stats().depth === 0);
  });
});

describe('cloud publisher: outage', () => {
  test('broker down while fails are published, then up: each arrives once, in order per station (SQLite outbox)', async (t) => {
    const broker = await startMosquitto(t, { persistent: true });
    // A persistent session: the broker keeps what arrives while the subscriber reconnects.
    const sub = await subscribe(t, broker.url, 'linesight/#', { clientId: 'cloud-side' });
    await broker.stop();
    const path = join(tempDir(t, 'cloud-outage-'), 'outbox.db');
    const { p, lines } = publisher(t, broker.url, { outbox: new SqliteOutbox({ path }) });
    await p.start();
    for (let i = 0; i < 40; i++) p.publish(verdict(i, i % 2 ? 'cam1' : 'cam2'));
    await until('a failed connection', () => p.health().lastError !== null);
    assert.match(p.health().lastError!, /connection refused/);
    assert.equal(p.health().pending, 40);
    await broker.restart();
    await until('40 messages', () => sub.messages.length >= 40, 15_000, () => [p.health(), sub.messages.length]);
    await until('outbox empty', () => p.health().pending === 0);
    const ids = sub.messages.map((m) => (JSON.parse(m.payload) as Verdict).id);
    for (const cam of ['cam1', 'cam2']) {
      const got = ids.filter((id) => id.startsWith(`v-${cam}-`)).map((id) => Number(id.split('-')[2]));
      assert.deepEqual(got, [...got].sort((a, b) => a - b), `${cam} in order`);
    }
    assert.equal(new Set(ids).size, 40);
    assert.ok(p.health().reconnects >= 1);
    assert.ok(lines.some((l) => l.includes('cloud: connected')));
  });
});

test('the drain yields to the line: while parts are in flight one batch per gap, at full speed once the line idles', async (t) => {
  const broker = await startMosquitto(t);
  const sub = await subscribe(t, broker.url, 'linesight/#');
  const clock = new FakeClock();
  const outbox = new MemoryOutbox({ clock });
  for (let i = 0; i < 50; i++) outbox.add({ id: `m${i}`, station: 'cam1', class: 'fail', topic: 'linesight/v1/l1/cam1/verdict/fail', payload: Buffer.from(`{"i":${i}}`) });
  let busy = true;
  const p = new CloudMqttPublisher({ url: broker.url, thingName: 'box-2', outbox, clock, batch: 10, busyGapMs: 100, lineBusy: () => busy, log: silentLogger });
  t.after(() => p.stop(0));
  await p.start();
  // The clock stands still: the line stays busy for the whole first gap, so one batch goes.
  await until('the first batch', () => sub.messages.length >= 10);
  await until('its acknowledgements', () => outbox.stats().depth === 40);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sub.messages.length, 10, 'nothing more within the gap, however many acks woke the drain');
  clock.advance(100);
  await until('the second batch', () => sub.messages.length >= 20);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sub.messages.length, 20);
  busy = false;
  clock.advance(100);
  await until('the rest, the line idle', () => sub.messages.length >= 50);
  assert.deepEqual(sub.messages.map((m) => (JSON.parse(m.payload) as { i: number }).i), [...Array(50).keys()], 'in order');
});
