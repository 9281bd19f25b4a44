import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { CloudSendConfig, type StationCloudConfig } from '../../src/config/schema.js';
import { CloudFeed } from '../../src/publish/cloud-feed.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { OutboxMessage } from '../../src/publish/outbox.js';
import { checkedPayload } from '../helpers/cloud-payloads.js';
import type { VerdictKind } from '../../src/verdict.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { makeVerdict } from '../helpers/verdict-factory.js';
import { repo } from '../helpers/env.js';

const send = (over: Partial<CloudSendConfig> = {}): CloudSendConfig => ({ ...(Value.Default(CloudSendConfig, {}) as CloudSendConfig), ...over });

function setup(stations: Array<{ id: string; cloud?: StationCloudConfig }>, over: Partial<CloudSendConfig> = {}, extra: Partial<ConstructorParameters<typeof CloudFeed>[0]> = {}) {
  const clock = new FakeClock();
  const bus = new EventBus(silentLogger);
  const outbox = new MemoryOutbox({ clock });
  const feed = new CloudFeed({ line: 'L7', stations, send: send(over), outbox, bus, clock, log: silentLogger, ...extra });
  feed.start();
  const drain = (): OutboxMessage[] => outbox.next(100_000);
  return { clock, bus, outbox, feed, drain };
}

const allKinds: VerdictKind[] = ['pass', 'fail', 'uncertain', 'timeout', 'error'];

test('selection per station: fails only by default, passes when asked, a station without summaries or events', () => {
  const { clock, bus, feed, drain } = setup([
    { id: 'a' },
    { id: 'b', cloud: { passes: true } },
    { id: 'c', cloud: { summaries: 0, events: false } },
    { id: 'd', cloud: { fails: false } },
  ]);
  let seq = 0;
  for (const camera of ['a', 'b', 'c', 'd']) for (const kind of allKinds) bus.emit('verdict', makeVerdict({ seq: seq++, camera, kind }));
  for (const camera of ['a', 'b', 'c', 'd']) bus.emit('camera-state', { camera, running: false, detail: 'rtsp://user:secret@10.0.0.9/stream: connection refused' });
  clock.advance(60_000);
  const got = drain().map((m) => ({ ...m, p: checkedPayload(m) }));
  const of = (station: string, cls: string) => got.filter((m) => m.station === station && m.class === cls);
  const verdicts = (station: string) => got.filter((m) => m.station === station && (m.class === 'fail' || m.class === 'pass')).map((m) => m.p.verdict);
  assert.deepEqual(verdicts('a'), ['fail', 'uncertain', 'timeout', 'error']);
  assert.deepEqual(verdicts('b'), allKinds);
  assert.deepEqual(verdicts('c'), ['fail', 'uncertain', 'timeout', 'error']);
  assert.deepEqual(verdicts('d'), []);
  assert.equal(of('b', 'pass').length, 1);
  for (const s of ['a', 'b', 'd']) assert.equal(of(s, 'summary').length, 1, s);
  assert.equal(of('c', 'summary').length, 0);
  assert.equal(of('a', 'event').length, 1);
  assert.equal(of('c', 'event').length, 0);
  // The summary counts every part, sent or not.
  assert.equal(of('d', 'summary')[0]!.p.parts, 5);
  // Topics carry the station and the verdict.
  assert.equal(of('a', 'fail')[0]!.topic, 'linesight/v1/L7/a/verdict/fail');
  assert.equal(of('b', 'pass')[0]!.topic, 'linesight/v1/L7/b/verdict/pass');
  assert.equal(of('a', 'summary')[0]!.topic, 'linesight/v1/L7/a/summary');
  // The verdict's own id is the message id: de-duplication downstream spans local and cloud.
  assert.equal(of('a', 'fail')[0]!.id, 'L7.a.run1.1');
  assert.equal(feed.stats().added.fail, 12);
  feed.stop();
});

test('events: a model change and a camera going down (once, however often it retries), redacted; topics with {thing}', () => {
  const { bus, drain } = setup([{ id: 'cam1' }], { topics: { verdict: 'dt/{thing}/{station}/{verdict}', summary: 'dt/{thing}/{station}/summary', event: 'dt/{thing}/{station}/event/{event}' } }, { thing: 'box-7' });
  bus.emit('camera-state', { camera: 'cam1', running: true, detail: 'camera started' });
  bus.emit('model-changed', { camera: 'cam1', from: 'label-orientation@1.0.0', to: 'label-orientation@1.1.0', reason: 'new version' });
  for (let i = 0; i < 5; i++) bus.emit('camera-state', { camera: 'cam1', running: false, detail: 'rtsp://user:secret@10.0.0.9/stream: connection refused' });
  bus.emit('model-refused', { camera: 'cam1', model: 'label-orientation@2.0.0', error: { code: 'LS_ERR_MODEL_GOLDEN', message: 'model disagrees with its golden samples' } });
  bus.emit('camera-state', { camera: 'cam1', running: true, detail: 'camera started' });
  bus.emit('camera-state', { camera: 'ghost', running: false, detail: 'not a station' });
  const events = drain().map((m) => ({ topic: m.topic, id: m.id, p: checkedPayload(m) }));
  assert.deepEqual(
    events.map((e) => [e.topic, e.p.event, e.p.detail.running ?? e.p.detail.to ?? e.p.detail.code]),
    [
      ['dt/box-7/cam1/event/camera-state', 'camera-state', true],
      ['dt/box-7/cam1/event/model-changed', 'model-changed', 'label-orientation@1.1.0'],
      ['dt/box-7/cam1/event/camera-state', 'camera-state', false],
      ['dt/box-7/cam1/event/model-refused', 'model-refused', 'LS_ERR_MODEL_GOLDEN'],
      ['dt/box-7/cam1/event/camera-state', 'camera-state', true],
    ],
  );
  assert.deepEqual(events[1]!.p.detail, { from: 'label-orientation@1.0.0', to: 'label-orientation@1.1.0', reason: 'new version' });
  assert.doesNotMatch(JSON.stringify(events), /secret/);
  assert.match(events[2]!.p.detail.detail, /connection refused/);
  assert.equal(new Set(events.map((e) => e.id)).size, events.length);
});

test('a flapping camera is rate-limited: the drops are counted and reported in the next event', () => {
  const { clock, bus, feed, drain } = setup([{ id: 'cam1' }], { maxEventsPerMinute: 4 });
  for (let i = 0; i < 20; i++) bus.emit('camera-state', { camera: 'cam1', running: i % 2 === 0, detail: `flap ${i}` });
  assert.equal(drain().length, 4);
  assert.equal(feed.stats().eventsSuppressed, 16);
  clock.advance(60_000);
  bus.emit('model-changed', { camera: 'cam1', from: null, to: 'm@1', reason: 'requested' });
  const next = drain().filter((m) => m.class === 'event').map((m) => checkedPayload(m));
  assert.equal(next.length, 1);
  assert.equal(next[0]!.suppressed, 16);
});

test('evidence: the hook\'s reference goes with the fail; a failing hook or outbox costs the message, never the pipeline', () => {
  let hookThrows = false;
  const evidenceFor = (v: { id: string; camera: string }) => {
    if (hookThrows) throw new Error('disk gone');
    return { id: v.id, key: `evidence/L7/${v.camera}/2026/01/01/${v.id}.jpg` };
  };
  const { bus, feed, outbox, drain } = setup([{ id: 'cam1' }], {}, { evidenceFor });
  bus.emit('verdict', makeVerdict({ seq: 1, kind: 'fail' }));
  hookThrows = true;
  bus.emit('verdict', makeVerdict({ seq: 2, kind: 'fail' }));
  const [withRef, without] = drain().map((m) => checkedPayload(m));
  assert.deepEqual(withRef!.evidence, { id: 'L7.cam1.run1.1', key: 'evidence/L7/cam1/2026/01/01/L7.cam1.run1.1.jpg' });
  assert.equal(without!.evidence, null);
  // An outbox that throws (a failed disk): counted, not thrown into the bus.
  outbox.add = () => {
    throw new Error('SQLITE_IOERR');
  };
  bus.emit('verdict', makeVerdict({ seq: 3, kind: 'fail' }));
  assert.equal(feed.stats().errors, 1);
  assert.equal(bus.listenerFailures, 0);
});

test('a full outbox evicts passes (counted) and keeps the fail', () => {
  const clock = new FakeClock();
  const bus = new EventBus(silentLogger);
  const outbox = new MemoryOutbox({ clock, limits: { maxMessages: 10 } });
  const feed = new CloudFeed({ line: 'L7', stations: [{ id: 'cam1', cloud: { passes: true } }], send: send(), outbox, bus, clock, log: silentLogger });
  feed.start();
  for (let i = 0; i < 10; i++) bus.emit('verdict', makeVerdict({ seq: i, kind: 'pass' }));
  bus.emit('verdict', makeVerdict({ seq: 10, kind: 'fail' }));
  for (let i = 11; i < 15; i++) bus.emit('verdict', makeVerdict({ seq: i, kind: 'pass' }));
  const left = outbox.next(100);
  assert.equal(left.length, 10);
  assert.ok(left.some((m) => m.class === 'fail'));
  assert.equal(outbox.stats().dropped['full:pass'], 5);
  assert.equal(feed.stats().added.pass + feed.stats().added.fail, 15);
  feed.stop();
});

test('the README\'s cloud payload examples match the schemas', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.split('## Cloud messages')[1]!.split('\n## ')[0]!;
  const examples = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(examples.length, 3);
  const kinds = examples.map((json) => checkedPayload({ payload: Buffer.from(json), topic: 'linesight/v1/x/y/z' }).kind);
  assert.deepEqual(kinds, ['verdict', 'summary', 'event']);
});

test('health events: a station component to that station, a line-wide one to every station that sends events; redacted', () => {
  const { bus, drain } = setup([{ id: 'a' }, { id: 'b' }, { id: 'c', cloud: { events: false } }]);
  bus.emit('health-changed', { camera: 'a', component: 'trigger', ok: false, detail: 'not connected to the broker at mqtt://plc:hunter2@10.0.0.5:1883' });
  bus.emit('health-changed', { camera: null, component: 'local-mqtt', ok: false, detail: 'broker gone' });
  bus.emit('health-changed', { camera: 'a', component: 'trigger', ok: true, detail: 'subscribed' });
  const got = drain().map((m) => ({ topic: m.topic, p: checkedPayload(m) }));
  assert.deepEqual(
    got.map((m) => [m.topic, m.p.detail.component, m.p.detail.ok]),
    [
      ['linesight/v1/L7/a/event/health', 'trigger', false],
      ['linesight/v1/L7/a/event/health', 'local-mqtt', false],
      ['linesight/v1/L7/b/event/health', 'local-mqtt', false],
      ['linesight/v1/L7/a/event/health', 'trigger', true],
    ],
  );
  assert.ok(!JSON.stringify(got).includes('hunter2'), 'the password in the broker URL is redacted');
});

test('shadow trial milestones go up as events; the running agreement does not', () => {
  const { bus, drain } = setup([{ id: 'cam1' }]);
  const base = { camera: 'cam1', candidate: 'label-orientation@1.1.0', active: 'label-orientation@1.0.0' };
  bus.emit('shadow', { ...base, kind: 'started', parts: 0, agreement: null });
  for (let i = 1; i <= 5; i++) bus.emit('shadow', { ...base, kind: 'agreement', parts: i * 10, agreement: 1 });
  bus.emit('shadow', { ...base, kind: 'promoted', parts: 50, agreement: 1, detail: 'policy met: 50 parts, agreement 1.000' });
  const got = drain().map((m) => ({ topic: m.topic, p: checkedPayload(m) }));
  assert.deepEqual(
    got.map((m) => [m.topic, m.p.detail.kind, m.p.detail.parts]),
    [
      ['linesight/v1/L7/cam1/event/shadow', 'started', 0],
      ['linesight/v1/L7/cam1/event/shadow', 'promoted', 50],
    ],
  );
});
