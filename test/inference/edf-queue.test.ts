import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdfQueue } from '../../src/inference/edf-queue.js';

test('pops in deadline order, FIFO among equal deadlines', () => {
  const q = new EdfQueue<string>();
  q.push(30, 'c');
  q.push(10, 'a1');
  q.push(20, 'b');
  q.push(10, 'a2');
  q.push(5, 'z');
  const out: string[] = [];
  for (let e = q.pop(); e; e = q.pop()) out.push(e.value);
  assert.deepEqual(out, ['z', 'a1', 'a2', 'b', 'c']);
});

test('removes any entry and keeps the heap ordered', () => {
  const q = new EdfQueue<number>();
  const entries = [50, 10, 40, 20, 30, 60, 5].map((d) => q.push(d, d));
  assert.equal(q.remove(entries[2]!), true); // 40
  assert.equal(q.remove(entries[2]!), false); // already gone
  assert.equal(q.remove(entries[6]!), true); // 5, the top
  assert.equal(q.size, 5);
  const out: number[] = [];
  for (let e = q.pop(); e; e = q.pop()) out.push(e.value);
  assert.deepEqual(out, [10, 20, 30, 50, 60]);
});

test('randomised against a sorted array', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const q = new EdfQueue<number>();
  const live = new Map<number, ReturnType<typeof q.push>>();
  for (let i = 0; i < 2000; i++) {
    const r = rnd();
    if (r < 0.6 || live.size === 0) {
      const d = Math.floor(rnd() * 100);
      live.set(i, q.push(d, i));
    } else if (r < 0.8) {
      const keys = [...live.keys()];
      const k = keys[Math.floor(rnd() * keys.length)]!;
      assert.equal(q.remove(live.get(k)!), true);
      live.delete(k);
    } else {
      const min = Math.min(...[...live.values()].map((e) => e.deadline));
      const e = q.pop()!;
      assert.equal(e.deadline, min);
      live.delete(e.value);
    }
    assert.equal(q.size, live.size);
  }
});
