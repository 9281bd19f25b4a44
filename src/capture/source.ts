// The seam every camera kind implements. One file per kind in this folder, chosen by the
// config's `type` in sources.ts.
import type { TimeSource } from './capture-time.js';
import type { Frame } from './frame.js';

export type SourceState = 'idle' | 'connecting' | 'streaming' | 'stalled' | 'failed' | 'ended' | 'stopped';

export interface SourceHealth {
  state: SourceState;
  framesEmitted: number;
  /** Frames per second over the last few seconds. */
  fps: number;
  lastFrameAt: string | null;
  lastError: string | null;
  reconnects: number;
  /** What the last frame's capture time was based on; null before the first frame. */
  timeSource?: TimeSource | null;
  /** Camera timestamps found implausible (far in the past, in the future) and replaced by the arrival time. */
  captureTimesRejected?: number;
  /** Frames dropped for exceeding the source's size cap (maxFrameMB, or the replay file cap). */
  framesTooLarge?: number;
}

/** Why a source dropped a frame before any station saw it. */
export type SourceDropReason = 'superseded' | 'decode' | 'too-large';

export interface FrameSource {
  readonly kind: string;
  /** Opens the camera (or checks the files); throws a LinesightError on bad configuration. */
  start(): Promise<void>;
  /** Ends the frame stream; idempotent. */
  stop(): Promise<void>;
  /** The frames, newest as they come; ends after stop() or when a finite source runs out. */
  frames(): AsyncIterable<Frame>;
  health(): SourceHealth;
  /** Set by the station to count frames the source drops (newer frame won, undecodable data). */
  onDrop?: ((reason: SourceDropReason) => void) | undefined;
}
