// Admission estimates: learned per model and frame size, never locked in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceEstimates, estimateKey } from '../../src/inference/service-estimates.js';

const small = estimateKey('m@1#a', { kind: 'encoded', data: { byteLength: 6_000 } });
const huge = estimateKey('m@1#a', { kind: 'encoded', data: { byteLength: 4_000_000 } });

test('frames of very different size have their own estimate', () => {
  assert.notEqual(small, huge);
  assert.equal(small, estimateKey('m@1#a', { kind: 'encoded', data: { byteLength: 6_500 } }));
  assert.notEqual(small, estimateKey('m@2#b', { kind: 'encoded', data: { byteLength: 6_000 } }));
});

test('an unknown key always runs; a fresh estimate longer than the time left refuses', () => {
  const e = new ServiceEstimates({ staleMs: 1000 });
  assert.deepEqual(e.admit(huge, 0, 100), { admit: true, probe: false, estimateMs: null });
  e.record(huge, 400, 0);
  assert.equal(e.admit(huge, 10, 100).admit, false);
  assert.equal(e.peek(huge, 10, 100).admit, false);
  assert.equal(e.admit(huge, 10, 500).admit, true);
});

test('a burst of slow frames does not lock in: once stale, one probe runs and its measurement replaces the estimate', () => {
  const e = new ServiceEstimates({ staleMs: 1000 });
  for (let t = 0; t < 10; t++) e.record(huge, 300, t);
  // Fresh: refused, and no probe is handed out.
  assert.equal(e.admit(huge, 500, 100).admit, false);
  // Stale: exactly one probe while it is out.
  const probe = e.admit(huge, 1500, 100);
  assert.deepEqual(probe, { admit: true, probe: true, estimateMs: 300 });
  assert.equal(e.admit(huge, 1501, 100).admit, false);
  assert.equal(e.peek(huge, 1501, 100).admit, false);
  // The probe ran fast (the frames got small, the box got faster): admitted again at once.
  e.record(huge, 20, 1520);
  assert.equal(e.admit(huge, 1521, 100).admit, true);
});

test('a probe that measured nothing frees the key for the next probe', () => {
  const e = new ServiceEstimates({ staleMs: 1000 });
  e.record(huge, 300, 0);
  assert.equal(e.admit(huge, 2000, 100).admit, true);
  assert.equal(e.admit(huge, 2001, 100).admit, false);
  e.release(huge);
  assert.equal(e.admit(huge, 2002, 100).admit, true);
});

test('fresh measurements move the estimate; an unloaded model is forgotten', () => {
  const e = new ServiceEstimates({ staleMs: 1000, alpha: 0.5 });
  e.record(small, 10, 0);
  e.record(small, 30, 1);
  assert.equal(e.snapshot()[0]!.ms, 20);
  e.forget('m@1#a');
  assert.deepEqual(e.snapshot(), []);
});
