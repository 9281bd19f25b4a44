// The capture time of each frame ffmpeg writes, read from its stderr.
//
// ffmpeg's command line cannot hand out RTCP's RTP-to-wall-clock mapping (AVFormatContext
// start_time_realtime, packet PRFT side data: no option prints them, and the H.264 parser moves
// PRFT side data onto the previous frame). What it can do is stamp each packet with the wall clock
// as the demuxer reads it (-use_wallclock_as_timestamps): the moment the frame's first bytes
// reached this box, before ffmpeg's parser, decoder and encoder held it. With -copyts that time
// survives as the frame's pts, and a showinfo filter last in the chain prints it, one line per
// frame and in order, just before the frame goes to the encoder:
//
//   [Parsed_showinfo_1 @ 0x55c46783c8c0] [info] config in time_base: 1/90000, frame_rate: 10/1
//   [Parsed_showinfo_1 @ 0x55c46783c8c0] [info] n:   0 pts:161657548869012 pts_time:1.79619e+09 …
//
// ([info] with -loglevel level+info.) pts_time is printed with six significant digits, so the
// time is pts × time_base.

export type ShowinfoLine = { kind: 'timebase'; num: number; den: number } | { kind: 'frame'; n: number; pts: number | null };

const prefix = /^\[Parsed_showinfo_\d+ @ (?:0x)?[0-9a-f]+\] (?:\[info\] )?/i;

/** What a stderr line says, if it is showinfo's; undefined for every other line. */
export function parseShowinfo(line: string): ShowinfoLine | undefined {
  const m = prefix.exec(line);
  if (!m) return undefined;
  const rest = line.slice(m[0].length);
  const frame = /^n:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s/.exec(rest);
  if (frame) return { kind: 'frame', n: Number(frame[1]), pts: frame[2] === 'NOPTS' ? null : Number(frame[2]) };
  const tb = /^config in time_base: (\d+)\/(\d+)/.exec(rest);
  if (tb && Number(tb[2]) > 0) return { kind: 'timebase', num: Number(tb[1]), den: Number(tb[2]) };
  return undefined;
}

/**
 * Splits ffmpeg's stderr into lines; showinfo's frame lines become wall-clock times in ms
 * (undefined for a frame with no pts), in frame order; every other line goes to `other`.
 */
export class ShowinfoTimes {
  readonly #onFrame: (wallMs: number | undefined) => void;
  readonly #onOther: (line: string) => void;
  #partial = '';
  #timeBase: { num: number; den: number } | undefined;

  constructor(onFrame: (wallMs: number | undefined) => void, onOther: (line: string) => void) {
    this.#onFrame = onFrame;
    this.#onOther = onOther;
  }

  push(text: string): void {
    const lines = (this.#partial + text).split(/\r\n|\r|\n/);
    this.#partial = lines.pop()!;
    for (const line of lines) this.#line(line);
  }

  /** stderr ended: a last line without a newline is still a line. */
  end(): void {
    if (this.#partial) this.#line(this.#partial);
    this.#partial = '';
  }

  #line(line: string): void {
    const info = parseShowinfo(line);
    if (!info) {
      if (line.trim() && !prefix.test(line)) this.#onOther(line);
      return;
    }
    if (info.kind === 'timebase') this.#timeBase = info;
    else {
      const tb = this.#timeBase;
      this.#onFrame(info.pts === null || !tb ? undefined : (info.pts * tb.num * 1000) / tb.den);
    }
  }
}
