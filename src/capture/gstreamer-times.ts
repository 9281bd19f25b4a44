// The capture time of each frame a gst-launch-1.0 pipeline writes, read from its output.
//
// A GStreamer buffer's pts is the running time at which its source element says it was taken:
// v4l2src and aravissrc from the driver's or camera's timestamp, nvarguscamerasrc from the
// sensor's, rtspsrc from its jitter buffer (when the frame's first packet arrived, or with
// ntp-sync=true the camera's own clock through RTCP sender reports). Running time plus the
// pipeline's base time is a time on the pipeline clock, which gst-launch takes from
// GstSystemClock: CLOCK_MONOTONIC, the clock Node's Clock.now() reads. gst-launch prints neither
// directly, so Linesight
// - appends `identity name=linesight_time silent=false` after jpegenc and runs gst-launch -v,
//   which prints each JPEG's size and pts on stdout (the JPEGs themselves go to fd 3):
//     /GstPipeline:pipeline0/GstIdentity:linesight_time: last-message = chain   ******* (linesight_time:sink) (9423 bytes, dts: 0:00:00.002972728, pts: 0:00:00.002972728, duration: …
// - sets GST_DEBUG=pipeline:5, whose line on going to PLAYING on stderr gives the base time:
//     0:00:00.424938258  7355 0x5575 DEBUG  pipeline gstpipeline.c:494:gst_pipeline_change_state:<pipeline0> start_time=0:00:00.000000000, now=0:06:13.796567843, base_time 0:06:13.796567843
// - checks gst-launch's "New clock: GstSystemClock" line: another clock (an audio device's) is
//   not CLOCK_MONOTONIC, and its frames go on with their arrival time.
import type { CaptureStamp } from './capture-time.js';
import type { ReadStamp } from './stamp-pairer.js';

export const timeElement = 'linesight_time';
export const systemClockName = 'GstSystemClock';

/** GStreamer's time format (H:MM:SS.nnnnnnnnn) in ms; undefined for "none" and GST_CLOCK_TIME_NONE (99:99:99.999999999). */
export function parseGstTime(text: string): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2})\.(\d{9})$/.exec(text.trim());
  if (!m || text.startsWith('99:99:99')) return undefined;
  return (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 + Number(m[4]) / 1e6;
}

export type GstLine = { kind: 'buffer'; bytes: number; ptsMs: number | undefined } | { kind: 'clock'; name: string } | { kind: 'base'; ms: number };

/** What a line of gst-launch's stdout or stderr says about frame times, if anything. */
export function parseGstLine(line: string): GstLine | undefined {
  const buffer = new RegExp(`GstIdentity:${timeElement}: last-message = chain\\s+\\*+ \\(${timeElement}:sink\\) \\((\\d+) bytes, dts: [^,]*, pts: ([^,]+),`).exec(line);
  if (buffer) return { kind: 'buffer', bytes: Number(buffer[1]), ptsMs: parseGstTime(buffer[2]!) };
  const clock = /^New clock: (\S+)/.exec(line);
  if (clock) return { kind: 'clock', name: clock[1]! };
  const base = /\bgst_pipeline_change_state:<[^>]*> .*\bbase_time (\d+:\d{2}:\d{2}\.\d{9})/.exec(line) ?? /\bpipeline_update_start_time:<[^>]*> .*\bbase_time (\d+:\d{2}:\d{2}\.\d{9})/.exec(line);
  const ms = base ? parseGstTime(base[1]!) : undefined;
  return ms === undefined ? undefined : { kind: 'base', ms };
}

/** A GStreamer debug line ("0:00:00.424938258  7355 0x5575… DEBUG …"): never the reason a pipeline failed. */
export function isGstDebugLine(line: string): boolean {
  return /^\d+:\d{2}:\d{2}\.\d+\s+\d+\s+0x[0-9a-f]+\s+[A-Z]+\s/.test(line);
}

/**
 * Turns gst-launch's output into one ReadStamp per JPEG, in order, each with the JPEG's size.
 * A frame's time needs the clock and base time as well; frames seen before both are known
 * wait for them, up to `maxEarly`, after which (no base time: a GStreamer without debug
 * logging, or GST_DEBUG_FILE set) every frame goes on without a time.
 */
export class GstTimes {
  readonly #onStamp: (stamp: ReadStamp) => void;
  readonly #onOther: (line: string) => void;
  readonly #source: CaptureStamp['source'];
  readonly #maxEarly: number;
  #stdout = '';
  #stderr = '';
  #clock: string | undefined;
  #base: number | undefined;
  #early: Array<{ bytes: number; ptsMs: number | undefined }> = [];
  #unusable: string | undefined;
  /** Called once when times cannot be known for this session, with the reason. */
  onUnusable: ((why: string) => void) | undefined;

  constructor(onStamp: (stamp: ReadStamp) => void, onOther: (stderrLine: string) => void, source: CaptureStamp['source'], maxEarly = 4) {
    this.#onStamp = onStamp;
    this.#onOther = onOther;
    this.#source = source;
    this.#maxEarly = maxEarly;
  }

  stdout(text: string): void {
    this.#stdout = this.#lines(this.#stdout + text, (line) => this.#line(line));
  }

  stderr(text: string): void {
    this.#stderr = this.#lines(this.#stderr + text, (line) => {
      const info = parseGstLine(line);
      if (info) this.#line(line, info);
      else if (!isGstDebugLine(line) && line.trim()) this.#onOther(line);
    });
  }

  #lines(text: string, each: (line: string) => void): string {
    const lines = text.split(/\r?\n/);
    const rest = lines.pop()!;
    for (const line of lines) each(line);
    return rest;
  }

  #line(line: string, info = parseGstLine(line)): void {
    if (!info) return;
    if (info.kind === 'clock') this.#clock = info.name;
    else if (info.kind === 'base') this.#base = info.ms;
    else this.#early.push(info);
    if (this.#clock !== undefined && this.#clock !== systemClockName) this.#giveUp(`the pipeline runs on ${this.#clock}, not ${systemClockName}`);
    else if (this.#early.length > this.#maxEarly && (this.#clock === undefined || this.#base === undefined)) {
      this.#giveUp(this.#base === undefined ? 'gst-launch-1.0 gave no base time (GStreamer without debug logging, or GST_DEBUG_FILE set?)' : 'gst-launch-1.0 named no pipeline clock');
    }
    this.#release();
  }

  #giveUp(why: string): void {
    if (this.#unusable) return;
    this.#unusable = why;
    this.onUnusable?.(why);
  }

  #release(): void {
    const base = this.#base;
    const known = this.#clock === systemClockName && base !== undefined;
    if (!known && !this.#unusable) return;
    for (const { bytes, ptsMs } of this.#early.splice(0)) {
      const ms = known && !this.#unusable && ptsMs !== undefined ? base + ptsMs : undefined;
      this.#onStamp({ bytes, stamp: ms === undefined ? undefined : { clock: 'mono', ms, source: this.#source } });
    }
  }
}
