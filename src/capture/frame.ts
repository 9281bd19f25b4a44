// A frame as it leaves a camera. Image bytes travel to a worker as a transferred buffer:
// a source hands over a buffer it will not touch again.
import type { TimeSource } from './capture-time.js';

export type FrameImage =
  | { kind: 'encoded'; data: Uint8Array }
  | { kind: 'raw'; data: Uint8Array; width: number; height: number; format: 'rgb' | 'bgr' | 'gray' };

export interface Frame {
  camera: string;
  /** Per-source sequence number, from 1. */
  seq: number;
  /** From a trigger; free-running frames have none. */
  partId?: string;
  /** Monotonic ms (Clock.now) when the camera took the frame, as well as `timeSource` can tell. */
  capturedAt: number;
  /** Wall clock, epoch ms, at the same moment. */
  capturedWall: number;
  /** What the capture time is based on (capture-time.ts); absent on frames not from a camera (a part with no frame). */
  timeSource?: TimeSource;
  image: FrameImage;
  /** Where the frame came from (file name, stream URL), for logs and evidence. */
  origin?: string;
}
