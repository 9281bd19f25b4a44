// A frame as it leaves a camera. Image bytes travel to a worker as a transferred buffer:
// a source hands over a buffer it will not touch again.

export type FrameImage =
  | { kind: 'encoded'; data: Uint8Array }
  | { kind: 'raw'; data: Uint8Array; width: number; height: number; format: 'rgb' | 'bgr' | 'gray' };

export interface Frame {
  camera: string;
  /** Per-source sequence number, from 1. */
  seq: number;
  /** From a trigger; free-running frames have none. */
  partId?: string;
  /** Monotonic ms (Clock.now) at capture. */
  capturedAt: number;
  /** Wall clock, epoch ms, at capture. */
  capturedWall: number;
  image: FrameImage;
  /** Where the frame came from (file name, stream URL), for logs and evidence. */
  origin?: string;
}
