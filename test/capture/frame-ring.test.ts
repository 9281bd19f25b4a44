// The frames a triggered station keeps for late triggers: bounded by count, evictions counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameRing } from '../../src/capture/frame-ring.js';
import type { Frame } from '../../src/capture/frame.js';

const frame = (seq: number): Frame => ({ camera: 'c', seq, capturedAt: seq * 10, capturedWall: seq * 10, image: { kind: 'encoded', data: new Uint8Array(1) } });

test('the ring holds at most its capacity, newest kept, and counts what it pushed out', () => {
  const ring = new FrameRing(8);
  for (let seq = 1; seq <= 20; seq++) ring.push(frame(seq));
  assert.equal(ring.size, 8);
  assert.equal(ring.capacity, 8);
  assert.equal(ring.evicted, 12);
  assert.equal(ring.nearestBefore(200, 0)?.seq, 20);
  assert.equal(ring.nearestBefore(130, 0)?.seq, 13, 'the oldest frame kept');
  assert.equal(ring.nearestBefore(125, 100), undefined, 'frame 12 was pushed out');
});
