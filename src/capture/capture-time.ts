// When a frame was taken. A trigger is matched to the frame captured nearest it, so the time
// must be the camera's, not the moment Node got the decoded image: through ffmpeg that moment is
// a frame interval or more later. A source that can tell (the camera program prints a timestamp
// per frame) is believed within reason; otherwise, or when its time is nonsense, the arrival in
// Node is the fallback, and a rejected timestamp is counted.

/**
 * Where a frame's capture time came from:
 * - `camera`: the camera's own clock (a sensor or driver timestamp, or RTP timestamps mapped to
 *   the wall clock through RTCP sender reports);
 * - `receive`: when the frame reached this box, stamped by the capture program before it
 *   decoded anything (the camera's exposure and encoding time are not in it);
 * - `arrival`: when Node got the image (sources with no timestamps, and the fallback).
 */
export type TimeSource = 'camera' | 'receive' | 'arrival';

/** A capture time read from a camera program, in the clock it keeps. */
export interface CaptureStamp {
  /**
   * `wall`: epoch milliseconds. `mono`: CLOCK_MONOTONIC milliseconds, the clock Clock.now()
   * reads in production (and GStreamer's system clock).
   */
  clock: 'wall' | 'mono';
  ms: number;
  source: Exclude<TimeSource, 'arrival'>;
}

export interface CaptureTimeLimits {
  /** A frame older than this on arrival: the stamp is taken as wrong (a camera clock off by minutes). */
  maxAgeMs: number;
  /**
   * A stamp later than arrival by more than this is wrong. By less, the frame counts as taken on
   * arrival: a camera clock a little ahead, or rtspsrc's jitter buffer, whose smoothed timestamps
   * run up to ~60 ms ahead of the packets for a while after connecting and in bursts after that.
   */
  maxAheadMs: number;
}

export const defaultCaptureTimeLimits: CaptureTimeLimits = { maxAgeMs: 5_000, maxAheadMs: 100 };

export interface CaptureTime {
  /** Monotonic ms (Clock.now) at capture. */
  capturedAt: number;
  /** Epoch ms at capture. */
  capturedWall: number;
  timeSource: TimeSource;
  /** Why the stamp was not used, when there was one. */
  rejected?: string;
}

/**
 * The capture time of a frame that arrived at `arrival` (Clock.now and Clock.wallNow, read
 * together), from the camera's stamp when it is believable: capturedAt = arrival − age, with the
 * age measured in the stamp's own clock, so no clock is compared with another.
 */
export function captureTime(stamp: CaptureStamp | undefined, arrival: { mono: number; wall: number }, limits: CaptureTimeLimits = defaultCaptureTimeLimits): CaptureTime {
  const onArrival = { capturedAt: arrival.mono, capturedWall: arrival.wall, timeSource: 'arrival' as const };
  if (!stamp) return onArrival;
  const age = stamp.clock === 'wall' ? arrival.wall - stamp.ms : arrival.mono - stamp.ms;
  if (!Number.isFinite(age)) return { ...onArrival, rejected: `capture time ${stamp.ms} is not a number` };
  if (age < -limits.maxAheadMs) return { ...onArrival, rejected: `capture time ${Math.round(-age)} ms after arrival` };
  if (age > limits.maxAgeMs) return { ...onArrival, rejected: `capture time ${Math.round(age)} ms before arrival` };
  const held = Math.max(0, age);
  return { capturedAt: arrival.mono - held, capturedWall: arrival.wall - held, timeSource: stamp.source };
}
