// The local publisher through a broker outage, against a real Mosquitto: memory stays bounded
// however long the outage (the queue bound, passes dropped first, every drop counted), and what
// the queue kept arrives in order once the broker is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitAtMost } from '../../src/clock.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { LocalMqttPublisher } from '../../src/publish/local-mqtt.js';
import type { Verdict } from '../../src/verdict.js';
import { startMosquitto, subscribe } from '../helpers/brokers.js';

function verdict(seq: number): Verdict {
  // One in ten a reject, like a line with a bad batch; the rest passes.
  const kind = seq % 10 === 0 ? 'fail' : 'pass';
  return {
    id: `run-cam1-${seq}`,
    line: 'L7',
    camera: 'cam1',
    partId: `SN-${seq}`,
    seq,
    verdict: kind,
    action: kind === 'pass' ? 'accept' : 'reject',
    label: kind === 'pass' ? 'upright' : 'upside_down',
    score: 0.97,
    scores: { upright: kind === 'pass' ? 0.97 : 0.03, upside_down: kind === 'pass' ? 0.03 : 0.97 },
    model: { name: 'label-orientation', version: '1.0.0' },
    budgetMs: 100,
    deadlineMet: true,
    timings: { queueMs: 1.2, preprocessMs: 3.4, inferenceMs: 5.6, totalMs: 11.1 },
    capturedAt: new Date(1_767_225_600_000 + seq * 100).toISOString(),
    captureTimeSource: 'arrival',
    decidedAt: new Date(1_767_225_600_011 + seq * 100).toISOString(),
  };
}

// Garbage from building 36,000 messages is not growth: collect it before measuring.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function memoryMB(): { rss: number; heap: number; buffers: number; heapTotal: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss / 1024 / 1024, heap: m.heapUsed / 1024 / 1024, buffers: m.arrayBuffers / 1024 / 1024, heapTotal: m.heapTotal / 1024 / 1024 };
}

test('an hour of verdicts during a broker outage: the queue stays at its bound (passes dropped first, counted), memory is flat, the kept verdicts arrive in order', async (t) => {
  const broker = await startMosquitto(t, { persistent: true });
  const plc = await subscribe(t, broker.url, 'linesight/v1/L7/cam1/verdict', { clientId: 'plc-gateway' });
  const bus = new EventBus(silentLogger);
  let failures = 0;
  bus.on('publish-failed', () => failures++);
  const maxQueued = 9000; // the default: 15 minutes at 10 parts/s
  const publisher = new LocalMqttPublisher({ url: broker.url, line: 'L7', cameras: ['cam1'], topicPrefix: 'linesight/v1', clientIdPrefix: 'ls', bus, log: silentLogger, maxQueued });
  await publisher.start();
  t.after(() => publisher.stop(0));
  publisher.publish(verdict(0));
  await plc.next((m) => m.topic.endsWith('/verdict'));

  await broker.stop();
  await new Promise<void>((r) => setTimeout(r, 100)); // let the client notice
  assert.equal(publisher.health().connected, false);
  // An hour at 10 parts/s, published as fast as possible (simulated time).
  const hour = 36_000;
  let seq = 1;
  const publishHour = () => {
    for (let i = 0; i < hour; i++) publisher.publish(verdict(seq++));
  };
  publishHour();
  const [q1] = publisher.queues();
  assert.equal(q1!.depth, maxQueued);
  assert.equal(q1!.capacity, maxQueued);
  // 36,000 in, 9,000 kept: 27,000 dropped, all of them passes (there were 32,400).
  assert.deepEqual(q1!.dropped, { 'full-pass': hour - maxQueued, 'full-oldest': 0 });
  const one = memoryMB();
  publishHour();
  const two = memoryMB();
  publishHour();
  const three = memoryMB();
  const [q3] = publisher.queues();
  assert.equal(q3!.depth, maxQueued);
  // Three hours: 10,800 fails, more than fit. Once no pass is left, the oldest fail goes.
  assert.deepEqual(q3!.dropped, { 'full-pass': 3 * hour * 0.9, 'full-oldest': 3 * hour * 0.1 - maxQueued });
  assert.equal(failures, 3 * hour - maxQueued, 'every drop is reported on the bus');
  const f = (m: { rss: number; heap: number; buffers: number; heapTotal: number }) => `RSS ${m.rss.toFixed(1)} MB, heap ${m.heap.toFixed(1)} of ${m.heapTotal.toFixed(1)} MB, buffers ${m.buffers.toFixed(1)} MB`;
  t.diagnostic(`after 1 h: ${f(one)}; after 2 h: ${f(two)}; after 3 h: ${f(three)}; queue ${(q3!.depth)} verdicts`);
  // Unbounded, mqtt.js' store grew about 65 MB per hour. Bounded, the live heap is flat from the
  // first hour on, and RSS flat from the second (the first may still grow V8's reserved pages).
  assert.ok(three.heap - one.heap < 4, `heap grew ${(three.heap - one.heap).toFixed(1)} MB over two more simulated hours`);
  // RSS outside V8's heap (RSS - heapTotal): what a native leak would grow. V8's own reserve is
  // left out: Node 24 sometimes grows heapTotal from 89 to 153 MB here with the live heap flat at
  // 23 MB (asserted above), which moves RSS by 30 MB and is not a leak. Flat means within 16 MB of
  // the highest of the first two hours, below the smallest leak that matters (keeping every
  // verdict: about 25 MB an hour).
  const native = (m: { rss: number; heapTotal: number }) => m.rss - m.heapTotal;
  const before = Math.max(native(one), native(two));
  assert.ok(native(three) - before < 16, `RSS outside V8's heap grew ${(native(three) - before).toFixed(1)} MB in the third simulated hour`);

  await broker.restart();
  await plc.next((m) => (JSON.parse(m.payload) as Verdict).seq === seq - 1, 30_000);
  const got = plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).seq);
  // What was kept is the last 9,000 fails, in order.
  const expected = Array.from({ length: seq - 1 }, (_, i) => i + 1)
    .filter((s) => s % 10 === 0)
    .slice(-maxQueued);
  assert.deepEqual(got.slice(1), expected);
  // Stopping waits for the last acknowledgements: nothing is left.
  await publisher.stop(5000);
  assert.equal(publisher.health().pending, 0);
  assert.deepEqual(publisher.queues()[0]!.depth, 0);
});

test('a short outage loses nothing: verdicts queued while disconnected arrive in order, never more than maxInflight handed to mqtt.js', async (t) => {
  const broker = await startMosquitto(t, { persistent: true });
  const plc = await subscribe(t, broker.url, 'linesight/v1/L7/cam1/verdict', { clientId: 'plc-gateway-2' });
  const bus = new EventBus(silentLogger);
  const publisher = new LocalMqttPublisher({ url: broker.url, line: 'L7', cameras: ['cam1'], topicPrefix: 'linesight/v1', clientIdPrefix: 'ls2', bus, log: silentLogger, maxInflight: 5 });
  await publisher.start();
  t.after(() => publisher.stop(0));
  for (let s = 0; s < 20; s++) publisher.publish(verdict(s));
  // At most 5 handed over; the rest wait in our queue.
  assert.equal(publisher.queues()[0]!.depth, 15);
  await broker.stop();
  await new Promise<void>((r) => setTimeout(r, 100));
  for (let s = 20; s < 500; s++) publisher.publish(verdict(s));
  await broker.restart();
  await plc.next(() => new Set(plc.messages.map((m) => m.payload)).size >= 500, 30_000);
  const seqs = [...new Set(plc.messages.map((m) => (JSON.parse(m.payload) as Verdict).seq))];
  assert.deepEqual(seqs, Array.from({ length: 500 }, (_, i) => i));
  assert.deepEqual(publisher.queues()[0]!.dropped, { 'full-pass': 0, 'full-oldest': 0 });
});

test('stop returns when the broker stops answering mid-flight (the connection open, no acknowledgements): the broker then sends the will', async (t) => {
  const broker = await startMosquitto(t);
  const bus = new EventBus(silentLogger);
  const publisher = new LocalMqttPublisher({ url: broker.url, line: 'L7', cameras: ['cam1'], topicPrefix: 'linesight/v1', clientIdPrefix: 'ls3', bus, log: silentLogger });
  await publisher.start();
  // A frozen broker keeps the TCP connection open but acknowledges nothing, like one that hangs
  // or a network that blackholes packets: mqtt.js still counts itself connected.
  broker.process.kill('SIGSTOP');
  let stopped: boolean;
  try {
    for (let s = 0; s < 10; s++) publisher.publish(verdict(s));
    assert.equal(publisher.health().connected, true);
    stopped = await waitAtMost(publisher.stop(200), 15_000);
  } finally {
    broker.process.kill('SIGCONT');
  }
  assert.equal(stopped, true, 'stop() must return although nothing is acknowledged');
  assert.equal(publisher.health().pending, 10, 'the unacknowledged verdicts are reported, not pretended delivered');
  const scada = await subscribe(t, broker.url, 'linesight/v1/L7/cam1/status');
  await scada.next((m) => m.payload === 'offline');
});
