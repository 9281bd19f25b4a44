// One suite, both outboxes (MQTT.js runs one abstract store suite against each store).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isLinesightError } from '../../src/errors.js';
import type { MessageClass, NewMessage, Outbox } from '../../src/publish/outbox.js';
import { MemoryOutbox } from '../../src/publish/outbox-memory.js';
import type { OutboxLimits } from '../../src/publish/outbox-policy.js';
import { SqliteOutbox } from '../../src/publish/outbox-sqlite.js';
import { tempDir } from '../helpers/env.js';
import { FakeClock } from '../helpers/fake-clock.js';

type Ctx = { after: (fn: () => void) => void };
type Make = (t: Ctx, clock: FakeClock, limits?: Partial<OutboxLimits>) => Outbox;

const implementations: Array<[string, Make]> = [
  ['MemoryOutbox', (_t, clock, limits) => new MemoryOutbox({ clock, limits })],
  ['SqliteOutbox', (t, clock, limits) => {
    const o = new SqliteOutbox({ path: join(tempDir(t, 'outbox-'), 'outbox.db'), clock, limits });
    t.after(() => o.close());
    return o;
  }],
];

function msg(id: string, cls: MessageClass = 'fail', station = 's1', size = 10): NewMessage {
  return { id, station, class: cls, topic: `t/${station}/${cls}`, payload: Buffer.alloc(size, id.length) };
}

/** What `next` hands out, acked at once: the delivery order. */
function drainAll(o: Outbox): string[] {
  const ids: string[] = [];
  for (;;) {
    const batch = o.next(3);
    if (batch.length === 0) return ids;
    ids.push(...batch.map((m) => m.id));
    o.ack(batch.map((m) => m.id));
  }
}

for (const [name, make] of implementations) {
  describe(name, () => {
    test('keeps the order per station across interleaved stations, and acked messages leave', (t) => {
      const o = make(t, new FakeClock());
      for (let i = 0; i < 10; i++) assert.equal(o.add(msg(`a${i}`, i % 3 === 0 ? 'summary' : 'fail', i % 2 ? 's1' : 's2')), true);
      const order = drainAll(o);
      assert.deepEqual(order, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
      assert.equal(o.stats().depth, 0);
      assert.equal(o.stats().bytes, 0);
    });

    test('a drainer asks for its classes only: evidence jobs and MQTT messages are handed out apart, each in order', (t) => {
      const o = make(t, new FakeClock());
      for (let i = 0; i < 12; i++) o.add(msg(`m${i}`, i % 3 === 0 ? 'evidence' : 'fail'));
      const evidence = o.next(10, { classes: ['evidence'] }).map((m) => m.id);
      assert.deepEqual(evidence, ['m0', 'm3', 'm6', 'm9']);
      const mqtt = o.next(3, { classes: ['fail', 'summary', 'event', 'pass'] }).map((m) => m.id);
      assert.deepEqual(mqtt, ['m1', 'm2', 'm4'], 'the page is filled past the other class');
      // Each drainer's messages stay leased to it; the rest is untouched.
      assert.deepEqual(o.next(10, { classes: ['evidence'] }), []);
      assert.equal(o.stats().depth, 12);
    });

    test('re-adding an id is a no-op; payload and fields come back as added', (t) => {
      const o = make(t, new FakeClock());
      const m = msg('x', 'event', 'cam7', 5);
      assert.equal(o.add(m), true);
      assert.equal(o.add({ ...m, payload: Buffer.from('other') }), true);
      assert.equal(o.stats().depth, 1);
      const [got] = o.next(10);
      assert.equal(got!.id, 'x');
      assert.equal(got!.station, 'cam7');
      assert.equal(got!.class, 'event');
      assert.equal(got!.topic, 't/cam7/event');
      assert.deepEqual(got!.payload, m.payload);
      assert.equal(got!.attempts, 0);
    });

    test('a message handed out is not handed out again until it failed; failed keeps its place and counts attempts', (t) => {
      const o = make(t, new FakeClock());
      for (const id of ['m1', 'm2', 'm3']) o.add(msg(id));
      assert.deepEqual(o.next(2).map((m) => m.id), ['m1', 'm2']);
      assert.deepEqual(o.next(2).map((m) => m.id), ['m3']);
      assert.deepEqual(o.next(2), []);
      assert.equal(o.failed('m1', 'connection closed'), 1);
      assert.equal(o.failed('m2', 'connection closed'), 1);
      const again = o.next(5);
      assert.deepEqual(again.map((m) => m.id), ['m1', 'm2']);
      assert.equal(again[0]!.attempts, 1);
      assert.equal(o.failed('m1', 'x'), 2);
    });

    test('full by count: passes and summaries go before fails, oldest first; a fail goes only when nothing else is left', (t) => {
      const o = make(t, new FakeClock(), { maxMessages: 4 });
      o.add(msg('f1', 'fail'));
      o.add(msg('p1', 'pass'));
      o.add(msg('s1', 'summary'));
      o.add(msg('p2', 'pass'));
      assert.equal(o.add(msg('f2', 'fail')), true); // evicts p1 (lowest class, oldest)
      assert.equal(o.add(msg('f3', 'fail')), true); // evicts p2
      assert.equal(o.add(msg('p3', 'pass')), false); // a pass ranks below all that is left: itself dropped
      assert.equal(o.add(msg('f4', 'fail')), true); // evicts the summary
      assert.equal(o.add(msg('f5', 'fail')), true); // only fails left: the oldest fail makes room
      assert.equal(o.stats().depth, 4);
      assert.deepEqual(o.stats().dropped, { 'full:pass': 3, 'full:summary': 1, 'full:fail': 1 });
      assert.deepEqual(drainAll(o), ['f2', 'f3', 'f4', 'f5']);
    });

    test('full by bytes: the byte bound holds at every step', (t) => {
      const o = make(t, new FakeClock(), { maxBytes: 1000 });
      for (let i = 0; i < 200; i++) {
        o.add(msg(`m${i}`, i % 50 === 0 ? 'fail' : 'pass', 's1', 90));
        assert.ok(o.stats().bytes <= 1000, `after ${i}: ${o.stats().bytes}`);
      }
      const left = drainAll(o);
      // Every fail (4 of them) outlived the passes added after it.
      for (const f of ['m0', 'm50', 'm100', 'm150']) assert.ok(left.includes(f), `${f} in ${left.join(',')}`);
      assert.equal(o.add(msg('huge', 'fail', 's1', 2000)), false);
      assert.equal(o.stats().dropped['oversize:fail'], 1);
    });

    test('each class has a time to live: expired messages are dropped and counted, not sent', (t) => {
      const clock = new FakeClock();
      const o = make(t, clock, { classes: { pass: { priority: 10, ttlMs: 1000 }, summary: { priority: 20, ttlMs: 0 } } as OutboxLimits['classes'] });
      o.add(msg('p1', 'pass'));
      o.add(msg('f1', 'fail'));
      o.add(msg('s1', 'summary'));
      clock.advance(500);
      assert.equal(o.stats().oldestAgeMs, 500);
      clock.advance(600);
      assert.deepEqual(drainAll(o), ['f1', 's1']);
      assert.deepEqual(o.stats().dropped, { 'expired:pass': 1 });
    });

    test('quarantine: moved aside with its reason, listed, retried at the end of the order, purged', (t) => {
      const clock = new FakeClock();
      const o = make(t, clock, { maxQuarantined: 2 });
      for (const id of ['q1', 'ok1', 'q2', 'ok2']) o.add(msg(id));
      const out = o.next(4);
      o.quarantine('q1', 'too large');
      o.quarantine('q2', 'not authorized');
      o.ack(out.filter((m) => m.id.startsWith('ok')).map((m) => m.id));
      assert.equal(o.stats().depth, 0);
      assert.equal(o.stats().quarantined, 2);
      const listed = o.listQuarantine();
      assert.deepEqual(listed.map((q) => [q.id, q.reason]), [['q1', 'too large'], ['q2', 'not authorized']]);
      assert.equal(listed[0]!.quarantinedAt, clock.wallNow());
      assert.deepEqual(o.listQuarantine({ offset: 1, limit: 1 }).map((q) => q.id), ['q2']);
      // Re-adding a quarantined id is a no-op, like any known id.
      assert.equal(o.add(msg('q1')), true);
      assert.equal(o.stats().depth, 0);
      o.add(msg('later'));
      assert.equal(o.retryQuarantined(['q2', 'unknown']), 1);
      assert.deepEqual(drainAll(o), ['later', 'q2']);
      assert.equal(o.purgeQuarantined(), 1);
      assert.equal(o.stats().quarantined, 0);
      assert.equal(o.stats().bytes, 0);
      // The quarantine is bounded too: the oldest go, counted.
      for (const id of ['z1', 'z2', 'z3']) {
        o.add(msg(id, 'pass'));
        o.next(1);
        o.quarantine(id, 'refused');
      }
      assert.deepEqual(o.listQuarantine().map((q) => q.id), ['z2', 'z3']);
      assert.equal(o.stats().dropped['quarantine-full:pass'], 1);
    });

    test('stats report depth, bytes, oldest age and the bounds', (t) => {
      const clock = new FakeClock();
      const o = make(t, clock, { maxMessages: 7, maxBytes: 7000 });
      assert.deepEqual(o.stats(), { depth: 0, bytes: 0, oldestAgeMs: 0, dropped: {}, quarantined: 0, maxMessages: 7, maxBytes: 7000 });
      o.add(msg('a', 'fail', 's1', 20));
      clock.advance(250);
      o.add(msg('b', 'pass', 's1', 30));
      const s = o.stats();
      assert.equal(s.depth, 2);
      assert.equal(s.bytes, 50 + 't/s1/fail'.length + 't/s1/pass'.length);
      assert.equal(s.oldestAgeMs, 250);
    });
  });
}

describe('SqliteOutbox on disk', () => {
  test('what was added is there after reopening, in order, with its attempts; quarantine too', (t) => {
    const path = join(tempDir(t, 'outbox-'), 'sub', 'outbox.db');
    const clock = new FakeClock();
    const a = new SqliteOutbox({ path, clock });
    for (let i = 0; i < 5; i++) a.add(msg(`m${i}`, 'fail', i % 2 ? 's1' : 's2'));
    a.next(2);
    a.failed('m0', 'closed');
    a.quarantine('m1', 'too large');
    a.close();
    const b = new SqliteOutbox({ path, clock });
    t.after(() => b.close());
    assert.equal(b.stats().depth, 4);
    assert.equal(b.stats().quarantined, 1);
    const out = b.next(10);
    assert.deepEqual(out.map((m) => m.id), ['m0', 'm2', 'm3', 'm4']);
    assert.equal(out[0]!.attempts, 1);
    assert.ok(out[0]!.seq < out[1]!.seq);
    // seq never goes back, even after the highest rows were deleted
    b.ack(out.map((m) => m.id));
    b.add(msg('m5'));
    assert.ok(b.next(1)[0]!.seq > out[3]!.seq);
  });

  test('a file that is not an outbox is refused with LS_ERR_OUTBOX_OPEN naming it', (t) => {
    const path = join(tempDir(t, 'outbox-'), 'outbox.db');
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    assert.throws(
      () => new SqliteOutbox({ path }),
      (err: unknown) => isLinesightError(err, 'LS_ERR_OUTBOX_OPEN') && err.message.includes(path) && /not a database/.test(err.message),
    );
  });
});
