// Capture times from camera stamps: the mapping to the monotonic clock, the plausibility guard
// and its fallback to arrival, on the fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { captureTime, defaultCaptureTimeLimits, type CaptureStamp } from '../../src/capture/capture-time.js';
import { Inbox } from '../../src/capture/inbox.js';
import { StreamSource, type SessionFrame } from '../../src/capture/stream-source.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';

const arrivalOf = (clock: FakeClock) => ({ mono: clock.now(), wall: clock.wallNow() });

test('a wall-clock stamp: capturedAt is arrival minus the age measured on the wall clock', () => {
  const clock = new FakeClock(50_000);
  const taken = clock.wallNow();
  clock.advance(120);
  const t = captureTime({ clock: 'wall', ms: taken, source: 'receive' }, arrivalOf(clock));
  assert.deepEqual(t, { capturedAt: 50_000, capturedWall: taken, timeSource: 'receive' });
});

test('a monotonic stamp: the age is measured on the monotonic clock', () => {
  const clock = new FakeClock(50_000);
  clock.advance(33.5);
  const t = captureTime({ clock: 'mono', ms: 50_010, source: 'camera' }, arrivalOf(clock));
  assert.equal(t.capturedAt, 50_010);
  assert.equal(t.capturedWall, clock.wallNow() - 23.5);
  assert.equal(t.timeSource, 'camera');
});

test('no stamp: the arrival time, labelled so', () => {
  const clock = new FakeClock();
  assert.deepEqual(captureTime(undefined, arrivalOf(clock)), { capturedAt: clock.now(), capturedWall: clock.wallNow(), timeSource: 'arrival' });
});

test('implausible stamps fall back to arrival and say why: far in the past, in the future, not a number', () => {
  const clock = new FakeClock(100_000);
  const arrival = arrivalOf(clock);
  const { maxAgeMs, maxAheadMs } = defaultCaptureTimeLimits;
  const cases: Array<[CaptureStamp, RegExp]> = [
    [{ clock: 'wall', ms: arrival.wall - maxAgeMs - 1, source: 'camera' }, /ms before arrival/],
    [{ clock: 'wall', ms: arrival.wall - 3_600_000, source: 'camera' }, /3600000 ms before arrival/], // a camera clock an hour behind
    [{ clock: 'mono', ms: arrival.mono + maxAheadMs + 5, source: 'camera' }, new RegExp(`${maxAheadMs + 5} ms after arrival`)],
    [{ clock: 'wall', ms: Number.NaN, source: 'receive' }, /not a number/],
  ];
  for (const [stamp, why] of cases) {
    const t = captureTime(stamp, arrival);
    assert.equal(t.timeSource, 'arrival', JSON.stringify(stamp));
    assert.equal(t.capturedAt, arrival.mono);
    assert.equal(t.capturedWall, arrival.wall);
    assert.match(t.rejected!, why);
  }
});

test('at the limits the stamp is believed; a stamp a little ahead (camera clock ahead, jitter-buffer estimate) counts as taken on arrival', () => {
  const clock = new FakeClock(100_000);
  const arrival = arrivalOf(clock);
  const old = captureTime({ clock: 'mono', ms: arrival.mono - defaultCaptureTimeLimits.maxAgeMs, source: 'camera' }, arrival);
  assert.equal(old.timeSource, 'camera');
  assert.equal(old.capturedAt, arrival.mono - defaultCaptureTimeLimits.maxAgeMs);
  const ahead = captureTime({ clock: 'wall', ms: arrival.wall + defaultCaptureTimeLimits.maxAheadMs, source: 'receive' }, arrival);
  assert.deepEqual(ahead, { capturedAt: arrival.mono, capturedWall: arrival.wall, timeSource: 'receive' });
  const strict = captureTime({ clock: 'wall', ms: arrival.wall - 200, source: 'camera' }, arrival, { maxAgeMs: 100, maxAheadMs: 0 });
  assert.equal(strict.timeSource, 'arrival');
});

/** A StreamSource whose session yields what the test hands it. */
class HandFed extends StreamSource {
  readonly kind = 'hand-fed';
  readonly inbox = new Inbox<SessionFrame>();
  protected async validate(): Promise<void> {}
  protected open(signal: AbortSignal): AsyncIterable<SessionFrame> {
    signal.addEventListener('abort', () => this.inbox.end(), { once: true });
    return this.inbox.drain();
  }
}

test('StreamSource: frames carry the stamped time and its source; a rejected stamp is counted and logged once', async () => {
  const clock = new FakeClock(10_000);
  const warnings: string[] = [];
  const log = createLogger({ level: 'warn', format: 'json', write: (line) => warnings.push(JSON.parse(line).msg) });
  const source = new HandFed({ camera: 'cam1', clock, log });
  await source.start();
  const frames = source.frames()[Symbol.asyncIterator]();
  const image = { kind: 'encoded' as const, data: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) };

  source.inbox.push({ image, stamp: { clock: 'wall', ms: clock.wallNow() - 40, source: 'receive' } });
  const first = (await frames.next()).value!;
  assert.equal(first.capturedAt, 10_000 - 40);
  assert.equal(first.capturedWall, clock.wallNow() - 40);
  assert.equal(first.timeSource, 'receive');
  assert.equal(source.health().timeSource, 'receive');

  for (let i = 0; i < 2; i++) {
    clock.advance(100);
    source.inbox.push({ image, stamp: { clock: 'wall', ms: clock.wallNow() + 60_000, source: 'camera' } });
    const wrong = (await frames.next()).value!;
    assert.equal(wrong.capturedAt, clock.now());
    assert.equal(wrong.timeSource, 'arrival');
  }
  assert.equal(source.counters.captureTimesRejected, 2);
  assert.equal(source.health().captureTimesRejected, 2);
  assert.equal(warnings.filter((w) => w.startsWith('camera timestamp implausible')).length, 1);

  clock.advance(100);
  source.inbox.push({ image });
  assert.equal((await frames.next()).value!.timeSource, 'arrival');
  assert.equal(source.counters.captureTimesRejected, 2, 'no stamp is not a rejected stamp');
  await source.stop();
});
