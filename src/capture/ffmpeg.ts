// A camera or video file read by Debian's ffmpeg as a child process: RTSP, HTTP, V4L2 devices
// and files. One ffmpeg per session writes frames to stdout, as JPEGs (split with
// JpegSplitter) or raw RGB (fixed size); StreamSource reconnects when it exits. For network
// cameras it also prints, on stderr, when each frame reached this box (ffmpeg-times.ts), and
// that is the frame's capture time; files and V4L2 devices use the arrival time.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { redactText } from '../redact.js';
import { killOnExit, stopChild } from './child-process.js';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import type { FfmpegSourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { ShowinfoTimes } from './ffmpeg-times.js';
import type { FrameImage } from './frame.js';
import { Inbox } from './inbox.js';
import { JpegSplitter, maxFrameBytes } from './jpeg-stream.js';
import { StampPairer } from './stamp-pairer.js';
import { StreamSource, type SessionFrame } from './stream-source.js';

export type SpawnProcess = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface FfmpegSourceDeps {
  clock: Clock;
  log: Logger;
  /** Starts ffmpeg; tests inject a wrapper to watch or replace the child. */
  spawn?: SpawnProcess;
  random?: () => number;
}

const program = 'ffmpeg';
const networkSchemes = ['rtsp', 'rtsps', 'http', 'https'] as const;
const allowedInputs = 'rtsp://, rtsps://, http://, https://, a video file path (or file://) or a V4L2 device (/dev/videoN)';
/** SIGTERM lets ffmpeg close the connection cleanly (an RTSP TEARDOWN); SIGKILL if it does not. */
const termGraceMs = 500;
/** ffmpeg's default probe reads up to 5 s of a live stream before the first frame: as long as the default stall watchdog. */
const liveAnalyzeUs = 1_000_000;
const stderrLines = 4;

type Input =
  | { kind: 'network'; scheme: (typeof networkSchemes)[number]; url: string }
  | { kind: 'device'; path: string }
  | { kind: 'file'; path: string }
  | { kind: 'unknown'; scheme: string };

/** What the config's url names; plain paths are files, /dev/ paths devices (/dev/v4l/by-id/ links too). */
function classifyInput(url: string): Input {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'file' || (scheme === undefined && url.startsWith('file:'))) return { kind: 'file', path: filePath(url) };
  if (scheme === undefined) return url.startsWith('/dev/') ? { kind: 'device', path: url } : { kind: 'file', path: url };
  const network = networkSchemes.find((s) => s === scheme);
  return network ? { kind: 'network', scheme: network, url } : { kind: 'unknown', scheme };
}

function filePath(url: string): string {
  try {
    return fileURLToPath(new URL(url));
  } catch {
    // file://host/… or bad %-escapes: let the existence check report the path as written.
    return url.replace(/^file:(\/\/)?/, '');
  }
}


/** The ffmpeg release on this box, from `ffmpeg -version`; options newer than it are avoided. */
export interface FfmpegVersion {
  major: number;
  minor: number;
}

/** "ffmpeg version 5.1.9-0+deb12u1 …" → 5.1; undefined for a git build ("N-112233-g…"), taken as current. */
export function parseFfmpegVersion(text: string): FfmpegVersion | undefined {
  const m = /ffmpeg version n?(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

const atLeast = (v: FfmpegVersion | undefined, major: number, minor: number) => !v || v.major > major || (v.major === major && v.minor >= minor);

/** Whether frames of this input get the time they reached the box (network inputs) rather than their arrival in Node. */
export function receiveTimes(config: FfmpegSourceConfig): boolean {
  return classifyInput(config.url).kind === 'network';
}

/** The ffmpeg command line for one session; `version` as parseFfmpegVersion gives it. */
export function ffmpegArgs(config: FfmpegSourceConfig, version?: FfmpegVersion): string[] {
  const input = classifyInput(config.url);
  const timed = receiveTimes(config);
  // showinfo reports at level info; error otherwise. Each line is tagged with its level, so the
  // stderr tail that explains a failure leaves out the info lines.
  const args = ['-hide_banner', '-loglevel', timed ? 'level+info' : 'level+error', '-nostats', '-nostdin'];
  if (input.kind === 'network' || input.kind === 'device') {
    // Live: hand over each frame as soon as it is decoded rather than smoothing jitter. Before
    // -i, low_delay reaches the decoder: no reordering delay for an H.264 stream whose SPS does
    // not promise "no B-frames", and no frame threading (each thread would hold a frame).
    args.push('-fflags', 'nobuffer', '-flags', 'low_delay', '-analyzeduration', String(liveAnalyzeUs));
  }
  if (input.kind === 'network' && input.scheme.startsWith('rtsp')) args.push('-rtsp_transport', config.rtspTransport);
  // Each packet's timestamp is the wall clock as the demuxer reads it (ffmpeg-times.ts says why).
  if (timed) args.push('-use_wallclock_as_timestamps', '1');
  if (input.kind === 'file') {
    if (config.realtime) args.push('-re');
    if (config.loop) args.push('-stream_loop', '-1');
  }
  const format = config.inputFormat ?? (input.kind === 'device' ? 'v4l2' : undefined);
  if (format) args.push('-f', format);
  // After the defaults: ffmpeg keeps the last value of an option, so the config can override them.
  for (const [key, value] of Object.entries(config.inputOptions ?? {})) args.push(`-${key}`, String(value));
  // file: stops ffmpeg reading a name with a colon ("line:2.mp4") as a protocol.
  args.push('-i', input.kind === 'file' ? `file:${input.path}` : config.url);
  // Timestamps as the input has them (the wall clock), not shifted to start at zero.
  if (timed) args.push('-copyts');

  const filters: string[] = [];
  // The rate cap before scale: frames it drops are never scaled.
  if (config.ratePerSec !== undefined) filters.push(rateCap(config.ratePerSec));
  if (config.width !== undefined || config.height !== undefined) filters.push(`scale=${config.width ?? -2}:${config.height ?? -2}`);
  // Last: one line per frame that goes on to the encoder, so the k-th line is the k-th image.
  // Its plane checksums (from 5.0 they can be turned off) would cost a pass over every frame.
  if (timed) filters.push(atLeast(version, 5, 0) ? 'showinfo=checksum=0' : 'showinfo');
  if (filters.length) args.push('-vf', filters.join(','));
  args.push('-an', '-sn', '-dn');
  // Each decoded frame is written once, when it is ready: the default for a pipe of images is
  // constant frame rate, which duplicates and drops frames to fit a rate the camera only roughly keeps.
  args.push(...(atLeast(version, 5, 1) ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough']));
  // The encoder then sees the frames' own timestamps; in its default time base (1/frame rate)
  // two frames a little closer than the nominal interval would share one and stop ffmpeg.
  args.push('-enc_time_base', '-1');
  // After -i, -threads is the encoder's. The JPEG encoder's default frame threading keeps up to
  // one frame per thread in flight: one to two frame intervals of delay on a small box, for
  // nothing, since frames come one at a time.
  args.push('-threads', '1');
  if (config.output === 'raw') args.push('-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');
  else args.push('-c:v', 'mjpeg', '-q:v', String(config.jpegQuality), '-f', 'image2pipe', 'pipe:1');
  return args;
}

/**
 * At most `rate` frames per second: the first frame of each 1/rate slot of its own timestamp.
 * Unlike the fps filter it never duplicates a frame when the camera is slower, and it keeps
 * each frame's timestamp instead of moving it onto a grid.
 */
function rateCap(rate: number): string {
  return `select='not(eq(floor(t*${rate}),floor(prev_selected_t*${rate})))'`;
}

/** Turns ffmpeg's stdout into images; `pending` is a frame cut short, `corrupt` counts bad ones. */
interface Framer {
  push(chunk: Buffer): FrameImage[];
  readonly pending: number;
  readonly corrupt: number;
  /** Frames dropped for passing maxFrameMB. */
  readonly tooLarge: number;
}

class JpegFramer implements Framer {
  readonly #splitter: JpegSplitter;

  constructor(maxFrameBytes: number) {
    this.#splitter = new JpegSplitter({ maxFrameBytes });
  }

  get tooLarge(): number {
    return this.#splitter.tooLarge;
  }

  get pending(): number {
    return this.#splitter.pending;
  }

  get corrupt(): number {
    return this.#splitter.corrupt;
  }

  push(chunk: Buffer): FrameImage[] {
    return this.#splitter.push(chunk).map((data) => ({ kind: 'encoded', data }));
  }
}

/** rawvideo has no framing: each frame is exactly width*height*3 bytes, copied once into its own buffer. */
class RawFramer implements Framer {
  readonly corrupt = 0;
  readonly tooLarge = 0;
  readonly #width: number;
  readonly #height: number;
  readonly #size: number;
  #frame: Uint8Array;
  #filled = 0;

  constructor(width: number, height: number) {
    this.#width = width;
    this.#height = height;
    this.#size = width * height * 3;
    this.#frame = new Uint8Array(this.#size);
  }

  get pending(): number {
    return this.#filled;
  }

  push(chunk: Buffer): FrameImage[] {
    const out: FrameImage[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(this.#size - this.#filled, chunk.length - offset);
      this.#frame.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === this.#size) {
        out.push({ kind: 'raw', data: this.#frame, width: this.#width, height: this.#height, format: 'rgb' });
        this.#frame = new Uint8Array(this.#size);
        this.#filled = 0;
      }
    }
    return out;
  }
}

/** The last errors ffmpeg wrote to stderr, without its "[tcp @ 0x…] [error]" prefixes. */
class StderrTail {
  readonly #lines: string[] = [];

  push(line: string): void {
    // Tagged lines below error (-loglevel level+…): stream details, stats, the scaler's warnings.
    if (/^(\[[^\]]* @ (0x)?[0-9a-f]+\]\s*)*\[(warning|info|verbose|debug|trace)\]/i.test(line)) return;
    const text = line.replace(/^(\[[^\]]* @ (0x)?[0-9a-f]+\]\s*)*(\[(error|fatal|panic)\]\s*)?/i, '').trim();
    if (!text) return;
    this.#lines.push(text);
    if (this.#lines.length > stderrLines) this.#lines.shift();
  }

  toString(): string {
    return redactText(this.#lines.join('; '));
  }
}

export class FfmpegSource extends StreamSource {
  readonly kind = 'ffmpeg';
  readonly #config: FfmpegSourceConfig;
  readonly #spawn: SpawnProcess;
  readonly #finite: boolean;
  #version: FfmpegVersion | undefined;

  get #maxFrameBytes(): number {
    return maxFrameBytes(this.#config.maxFrameMB);
  }

  constructor(camera: string, config: FfmpegSourceConfig, deps: FfmpegSourceDeps) {
    const input = classifyInput(config.url);
    const finite = input.kind === 'file' && !config.loop;
    super({ camera, clock: deps.clock, log: deps.log, reconnect: config.reconnect, random: deps.random, finite });
    this.#config = config;
    this.#spawn = deps.spawn ?? spawn;
    this.#finite = finite;
  }

  protected async validate(): Promise<void> {
    const c = this.#config;
    const name = redactText(c.url);
    if (c.output === 'raw' && (c.width === undefined || c.height === undefined)) {
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', 'output raw needs width and height (the size of each frame on the pipe)', { args: [name] });
    }
    if (c.output === 'raw' && c.width! * c.height! * 3 > this.#maxFrameBytes) {
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', `raw ${c.width}x${c.height} RGB frames are ${c.width! * c.height! * 3} bytes, over maxFrameMB (${this.#maxFrameBytes / 1024 / 1024} MiB)`, { args: [name] });
    }
    const input = classifyInput(c.url);
    if (input.kind === 'unknown') {
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', `unknown scheme ${input.scheme}://; expected ${allowedInputs}`, { args: [name] });
    }
    if (input.kind === 'network' && !URL.canParse(c.url)) {
      throw new LinesightError('LS_ERR_SOURCE_CONFIG', `not a valid URL; expected ${allowedInputs}`, { args: [name] });
    }
    if (input.kind === 'file' || input.kind === 'device') {
      const what = input.kind === 'file' ? 'file' : 'device';
      const found = await stat(input.path).catch((err: NodeJS.ErrnoException) => err);
      if (found instanceof Error) {
        const reason = found.code === 'ENOENT' ? `no such ${what}` : found.message;
        throw new LinesightError('LS_ERR_SOURCE_CONFIG', `${reason}: ${input.path}`, { args: [name] });
      }
      if (found.isDirectory()) throw new LinesightError('LS_ERR_SOURCE_CONFIG', `${input.path} is a directory; expected a video ${what}`, { args: [name] });
    }
    await this.#checkProgram();
  }

  /**
   * Runs `ffmpeg -version`: a missing program is a deployment problem, not a camera outage. The
   * version decides between options that changed name (-vsync, -fps_mode).
   */
  #checkProgram(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = this.#spawn(program, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.once('error', (err: NodeJS.ErrnoException) => {
        const reason = err.code === 'ENOENT' ? `${program} not found on PATH (Debian: apt-get install ffmpeg)` : `${program}: ${err.message}`;
        reject(new LinesightError('LS_ERR_SOURCE_UNAVAILABLE', reason, { args: ['ffmpeg'], cause: err }));
      });
      child.once('close', () => {
        this.#version = parseFfmpegVersion(out);
        resolve();
      });
    });
  }

  protected async *open(signal: AbortSignal): AsyncGenerator<SessionFrame> {
    const c = this.#config;
    const child = this.#spawn(program, ffmpegArgs(c, this.#version), { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    const stdout = child.stdout!;
    const stderr = new StderrTail();
    // Images (stdout) and their times (stderr) meet here; the session yields what comes out.
    const frames = new Inbox<SessionFrame>();
    const pairer = receiveTimes(c) ? new StampPairer((f) => frames.push(f), this.clock) : undefined;
    if (pairer) pairer.onGiveUp = (why) => this.log.warn({ camera: this.camera, why }, 'ffmpeg frame times lost; arrival times until the next session');
    const times = new ShowinfoTimes(
      (ms) => pairer?.stamp({ stamp: ms === undefined ? undefined : { clock: 'wall', ms, source: 'receive' } }),
      (line) => stderr.push(line),
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => times.push(d));
    let spawnError: Error | undefined;
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, sig) => resolve({ code, signal: sig }));
    });

    const framer: Framer = c.output === 'raw' ? new RawFramer(c.width!, c.height!) : new JpegFramer(this.#maxFrameBytes);
    let corruptSeen = 0;
    let tooLargeSeen = 0;
    stdout.on('data', (chunk: Buffer) => {
      for (const image of framer.push(chunk)) {
        if (pairer) pairer.image(image);
        else frames.push({ image });
      }
      for (; tooLargeSeen < framer.tooLarge; tooLargeSeen++) {
        this.frameTooLarge(this.#maxFrameBytes);
        pairer?.giveUp('ffmpeg wrote a frame over maxFrameMB');
      }
      for (; corruptSeen < framer.corrupt; corruptSeen++) {
        this.decodeError('ffmpeg wrote a malformed JPEG');
        // A lost image would give every later image its predecessor's time.
        pairer?.giveUp('ffmpeg wrote a malformed JPEG');
      }
    });
    stdout.once('error', (err) => frames.end(signal.aborted ? undefined : err));
    // 'close' comes once both pipes are read to their end: every time has met its image.
    void closed.then(() => {
      times.end();
      pairer?.end();
      frames.end();
    });
    // Ending the read at once lets the session settle; the child is reaped in `finally`.
    const onAbort = () => {
      stdout.destroy();
      frames.end();
    };
    signal.addEventListener('abort', onAbort, { once: true });

    try {
      for await (const frame of frames.drain()) {
        if (signal.aborted) break;
        yield frame;
      }
      if (signal.aborted) return;
      const { code, signal: killedBy } = await closed;
      if (framer.pending > 0) this.decodeError(`ffmpeg ended mid-frame (${framer.pending} bytes)`);
      const why = stderr.toString();
      if (spawnError) throw new Error(`cannot run ${program}: ${spawnError.message}`);
      if (code !== 0) throw new Error(`${program} ${killedBy ? `killed by ${killedBy}` : `exited with code ${code}`}${why ? `: ${why}` : ''}`);
      // A live input that ends (server closed the stream) is an outage; the base reconnects.
      if (!this.#finite) throw new Error(`stream ended: the camera or server closed it${why ? `; ffmpeg: ${why}` : ''}`);
      if (why) this.log.warn({ camera: this.camera, stderr: why }, 'ffmpeg reported errors while reading the file');
    } finally {
      signal.removeEventListener('abort', onAbort);
      pairer?.end();
      await this.#terminate(child, closed);
    }
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once the child is gone. */
  #terminate(child: ChildProcess, closed: Promise<unknown>): Promise<void> {
    return stopChild(child, closed, { signal: 'SIGTERM', graceMs: termGraceMs, clock: this.clock });
  }
}
