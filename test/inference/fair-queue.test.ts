// Which station's part goes next: fair share of worker time under overload, EDF within a station.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairQueue } from '../../src/inference/fair-queue.js';

test('within a station, earliest deadline first', () => {
  const q = new FairQueue<string>({ workers: 2, activeWindowMs: 1000 });
  q.push('a', 30, 'a30', 0);
  q.push('a', 10, 'a10', 0);
  q.push('a', 20, 'a20', 0);
  assert.equal(q.next(0)!.entry.value, 'a10');
});

test('a heavy station may not take the last worker while a light station is active', () => {
  const q = new FairQueue<string>({ workers: 2, activeWindowMs: 1000 });
  q.push('light', 100, 'l1', 0);
  const l = q.next(0)!;
  q.remove(l.station, l.entry);
  q.started('light');
  q.finished('light', 5, 5);
  for (let i = 0; i < 20; i++) q.push('heavy', 10 + i, `h${i}`, 6);
  const h = q.next(6)!;
  assert.equal(h.station, 'heavy');
  q.remove(h.station, h.entry);
  q.started('heavy');
  // One worker left: the heavy station is at its cap while light was active 1 ms ago.
  assert.equal(q.next(7), undefined);
  q.push('light', 200, 'l2', 7);
  assert.equal(q.next(7)!.entry.value, 'l2');
  // Once light has been idle for the window, heavy may use both workers.
  q.remove('light', q.next(7)!.entry);
  assert.equal(q.next(2000)!.station, 'heavy');
});

test('the station that used least worker time goes first, and a station back from idle banks no credit', () => {
  const q = new FairQueue<string>({ workers: 4, activeWindowMs: 100 });
  const run = (station: string, ms: number, now: number) => {
    const n = q.next(now)!;
    assert.equal(n.station, station);
    q.remove(n.station, n.entry);
    q.started(n.station);
    q.finished(n.station, ms, now);
  };
  for (let i = 0; i < 3; i++) q.push('a', 1000 + i, `a${i}`, 0);
  for (let i = 0; i < 3; i++) q.push('b', 1000 + i, `b${i}`, 0);
  run('a', 50, 1); // a: 50, b: 0
  run('b', 10, 2); // b: 10
  run('b', 10, 3); // b: 20
  run('b', 10, 4); // b: 30 (b empty now)
  run('a', 50, 5);
  // c arrives new: it starts level with the least-served active station (b, 30 ms), not at zero,
  // so b's earlier deadline wins the tie; a (100 ms used) waits for both.
  q.push('c', 2000, 'c0', 50);
  q.push('b', 1500, 'b-late', 50);
  assert.equal(q.next(50)!.station, 'b');
  run('b', 10, 51);
  assert.equal(q.next(51)!.station, 'c');
});
