// The cloud drain's rate limit: a full bucket's burst, then the configured rate, never more in any
// one-second window (AWS IoT Core refuses more than 100 publishes per second per connection).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../src/publish/token-bucket.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Sends as fast as the bucket allows, in steps of `stepMs` of fake time; returns the send times. */
function drain(rate: number, ms: number, stepMs: number): number[] {
  const clock = new FakeClock();
  const bucket = new TokenBucket(rate, clock);
  const sent: number[] = [];
  const t0 = clock.now();
  for (let t = 0; t <= ms; t += stepMs) {
    while (bucket.available() > 0) {
      bucket.take();
      sent.push(clock.now() - t0);
    }
    clock.advance(stepMs);
  }
  return sent;
}

test('a burst of one bucket, then the rate: never more than rate + burst in any second, and the long-run rate holds', () => {
  for (const [rate, step] of [[100, 1], [100, 7], [10, 3], [1, 50]] as const) {
    const sent = drain(rate, 10_000, step);
    // Over 10 s: the burst plus 10 s at the rate, give or take a token at the ends.
    assert.ok(Math.abs(sent.length - (rate + rate * 10)) <= 2, `rate ${rate}, step ${step}: ${sent.length} sent`);
    // After the first second's burst, any one-second window holds at most rate + 1 sends.
    const start = sent.findIndex((t) => t >= 1000);
    for (let i = start; i < sent.length; i++) {
      let j = i;
      while (j < sent.length && sent[j]! < sent[i]! + 1000) j++;
      assert.ok(j - i <= rate + 1, `rate ${rate}, step ${step}: ${j - i} sends in the second from ${sent[i]} ms`);
    }
  }
});

test('msUntilNext says when the next token comes, so the drain sleeps instead of spinning', () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(100, clock);
  while (bucket.available() > 0) bucket.take();
  assert.equal(bucket.msUntilNext(), 10);
  clock.advance(10);
  assert.equal(bucket.available(), 1);
  assert.equal(bucket.msUntilNext(), 0);
});
