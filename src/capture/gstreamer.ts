// A camera read through a GStreamer pipeline run by gst-launch-1.0 as a child process: Jetson
// CSI cameras (nvarguscamerasrc), GigE Vision (aravissrc), hardware decoders. The configured
// pipeline ends in raw video; Linesight appends `jpegenc ! identity ! fdsink fd=3` and splits
// that pipe into JPEGs, while gst-launch's own output gives each frame's capture time
// (gstreamer-times.ts). StreamSource reconnects when the process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { killOnExit, stopChild } from './child-process.js';
import type { Clock } from '../clock.js';
import type { GstreamerSourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CaptureStamp } from './capture-time.js';
import { GstTimes, timeElement } from './gstreamer-times.js';
import { Inbox } from './inbox.js';
import { JpegSplitter, maxFrameBytes } from './jpeg-stream.js';
import { StampPairer } from './stamp-pairer.js';
import { StreamSource, type SessionFrame } from './stream-source.js';

const launchProgram = 'gst-launch-1.0';
const inspectProgram = 'gst-inspect-1.0';
/** A first gst-inspect on a new machine builds GStreamer's plugin registry: seconds on a small board. */
const inspectTimeoutMs = 30_000;
/**
 * gst-launch -e turns SIGINT into an end of stream, so the camera is closed properly: a Jetson's
 * nvargus-daemon can be left unusable by a pipeline killed mid-capture, and a GigE camera keeps
 * its control channel taken until its heartbeat times out. SIGKILL if it is not gone by then.
 */
const interruptGraceMs = 2_000;
const stderrKeep = 4096;

/** Where elements that are not in the usual GStreamer packages come from, for the error message. */
const elementPackages: Record<string, string> = {
  nvarguscamerasrc: 'NVIDIA JetPack, on Jetson boards only',
  nvv4l2camerasrc: 'NVIDIA JetPack, on Jetson boards only',
  aravissrc: 'Aravis; Debian 12 package libaravis-0.8-0',
  jpegenc: 'gstreamer1.0-plugins-good',
  v4l2src: 'gstreamer1.0-plugins-good',
  rtspsrc: 'gstreamer1.0-plugins-good',
  libcamerasrc: 'gstreamer1.0-libcamera',
};

/**
 * Splits a pipeline into gst-launch's argv as a POSIX shell would: whitespace separates, quotes
 * group and are removed, a backslash escapes. gst-launch re-escapes the spaces inside each
 * argument, so `caps="video/x-raw, width=640"` reaches the parser as one value.
 */
export function splitPipeline(pipeline: string): string[] {
  const argv: string[] = [];
  let token = '';
  let inToken = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < pipeline.length; i++) {
    const c = pipeline[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else token += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (pipeline[i + 1] === '"' || pipeline[i + 1] === '\\')) token += pipeline[++i];
      else token += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (c === '\\' && i + 1 < pipeline.length) {
      token += pipeline[++i];
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) argv.push(token);
      token = '';
      inToken = false;
    } else {
      token += c;
      inToken = true;
    }
  }
  if (quote) throw new LinesightError('LS_ERR_SOURCE_CONFIG', `pipeline has an unterminated ${quote} quote: ${pipeline}`, { args: ['gstreamer'] });
  if (inToken) argv.push(token);
  return argv;
}

/** The gst-launch-1.0 arguments for one session. */
export function launchArgs(config: GstreamerSourceConfig): string[] {
  const pipeline = splitPipeline(config.pipeline);
  // "… ! videoconvert !" is an easy slip when the pipeline is written to have something appended.
  if (pipeline.at(-1) === '!') pipeline.pop();
  // -v prints the identity's report of each JPEG (size, pts) on stdout, so the JPEGs take fd 3.
  return ['-e', '-v', ...pipeline, '!', 'jpegenc', `quality=${config.jpegQuality}`, '!', 'identity', `name=${timeElement}`, 'silent=false', '!', 'fdsink', 'fd=3'];
}

/** The environment gst-launch-1.0 runs in: the debug line with the base time, in English, without colour codes. */
export function launchEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // Appended: a category named later wins, so a GST_DEBUG set for troubleshooting still works.
  const debug = env.GST_DEBUG ? `${env.GST_DEBUG},pipeline:5` : 'pipeline:5';
  return { ...env, GST_DEBUG: debug, GST_DEBUG_NO_COLOR: '1', LANGUAGE: 'en' };
}

/** Elements whose buffers are stamped when they reach this box rather than when the camera took them. */
const receivingElements = new Set(['rtspsrc', 'udpsrc', 'tcpclientsrc', 'souphttpsrc', 'srtsrc', 'srtclientsrc', 'rtmpsrc', 'rtmp2src', 'ristsrc', 'uridecodebin', 'uridecodebin3', 'urisourcebin']);

/**
 * What the pipeline's buffer timestamps mean: the camera's clock, or the moment the data reached
 * the box. rtspsrc with ntp-sync=true maps RTP time to the camera's clock through RTCP; without
 * it, and for other network sources, the timestamp is taken on arrival.
 */
export function pipelineTimeSource(pipeline: readonly string[]): CaptureStamp['source'] {
  const first = firstElement(pipeline) ?? (/^[a-z][a-z0-9+.-]*:\/\//i.test(pipeline[0] ?? '') ? 'uridecodebin' : undefined);
  if (first === 'rtspsrc') return pipeline.some((p) => /^ntp-sync=(true|1|yes)$/i.test(p)) ? 'camera' : 'receive';
  return first !== undefined && receivingElements.has(first) ? 'receive' : 'camera';
}

/** The source element (`nvarguscamerasrc sensor-id=0 ! …` → nvarguscamerasrc); none for URIs, bins, caps. */
export function firstElement(pipeline: readonly string[]): string | undefined {
  return /^([A-Za-z][A-Za-z0-9_+-]*)(?:!|$)/.exec(pipeline[0] ?? '')?.[1];
}

/** What gst-launch wrote to stderr (debug lines aside); its first ERROR (or WARNING) line says why the pipeline stopped. */
class StderrTail {
  #text = '';

  push(line: string): void {
    this.#text = (this.#text + line + '\n').slice(-stderrKeep);
  }

  reason(): string {
    const lines = this.#text.split('\n').map((l) => l.trim()).filter(Boolean);
    const primary = lines.find((l) => l.startsWith('ERROR')) ?? lines.find((l) => l.startsWith('WARNING'));
    return primary ?? lines.slice(-3).join('; ');
  }
}

type Exit = { code: number | null; signal: NodeJS.Signals | null; error?: Error };

/** Exit status of a short command, or the spawn error (ENOENT when the program is missing). */
function runCommand(program: string, args: string[], clock: Clock): Promise<Exit> {
  return new Promise((resolve) => {
    // Not spawn's own `timeout`: its timer outlives a spawn that fails (ENOENT) and holds the process open.
    const child = spawn(program, args, { stdio: 'ignore' });
    const timer = clock.setTimer(inspectTimeoutMs, () => child.kill('SIGKILL'));
    child.once('error', (error) => {
      timer.cancel();
      resolve({ code: null, signal: null, error });
    });
    child.once('close', (code, signal) => {
      timer.cancel();
      resolve({ code, signal });
    });
  });
}

/** One gst-launch-1.0 process: fd 3 is the JPEG stream, stdout and stderr its reports. */
class LaunchedPipeline {
  readonly child: ChildProcess;
  readonly stderr = new StderrTail();
  /** Settles once the process is gone and its pipes are read to their end. */
  readonly closed: Promise<Exit>;
  readonly #clock: Clock;
  #ending: Promise<void> | undefined;

  constructor(args: string[], clock: Clock) {
    this.#clock = clock;
    this.child = spawn(launchProgram, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: launchEnv() });
    killOnExit(this.child);
    let error: Error | undefined;
    this.closed = new Promise((resolve) => {
      this.child.once('error', (err) => (error = err));
      this.child.once('close', (code, signal) => resolve({ code, signal, ...(error ? { error } : {}) }));
    });
  }

  get jpegs(): Readable {
    return this.child.stdio[3] as Readable;
  }

  /**
   * SIGINT (end of stream), then SIGKILL after a grace period; resolves once the process is gone.
   * Once only: gst-launch takes a second SIGINT as a plain kill.
   */
  end(): Promise<void> {
    this.#ending ??= (async () => {
      await stopChild(this.child, this.closed, { signal: 'SIGINT', graceMs: interruptGraceMs, clock: this.#clock });
      await this.closed;
    })();
    return this.#ending;
  }
}

export class GstreamerSource extends StreamSource {
  readonly kind = 'gstreamer';
  readonly #config: GstreamerSourceConfig;

  constructor(camera: string, config: GstreamerSourceConfig, deps: { clock: Clock; log: Logger }) {
    super({ camera, clock: deps.clock, log: deps.log, reconnect: config.reconnect });
    this.#config = config;
  }

  protected async validate(): Promise<void> {
    const pipeline = splitPipeline(this.#config.pipeline);
    if (!pipeline.length) throw new LinesightError('LS_ERR_SOURCE_CONFIG', 'pipeline is empty', { args: ['gstreamer'] });
    const launch = await runCommand(launchProgram, ['--version'], this.clock);
    if (launch.error) {
      const reason =
        (launch.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${launchProgram} not found on PATH (Debian: apt-get install gstreamer1.0-tools)`
          : `${launchProgram}: ${launch.error.message}`;
      throw new LinesightError('LS_ERR_SOURCE_UNAVAILABLE', reason, { args: ['gstreamer'], cause: launch.error });
    }
    // The source element is what differs between boxes: nvarguscamerasrc exists only on a
    // Jetson, so a Jetson pipeline on an x86 box says so here instead of failing every reconnect.
    const needed = [...new Set([firstElement(pipeline), 'jpegenc'].filter((e): e is string => e !== undefined))];
    const found = await Promise.all(needed.map((element) => runCommand(inspectProgram, [element], this.clock)));
    const missing = needed.filter((_, i) => found[i]!.code !== 0);
    if (missing.length) {
      const which = missing.map((e) => (elementPackages[e] ? `${e} (${elementPackages[e]})` : e)).join(', ');
      throw new LinesightError('LS_ERR_SOURCE_UNAVAILABLE', `GStreamer element ${which} not installed: ${inspectProgram} ${missing[0]} does not find it`, {
        args: ['gstreamer'],
      });
    }
  }

  protected async *open(signal: AbortSignal): AsyncGenerator<SessionFrame> {
    const args = launchArgs(this.#config);
    this.log.debug({ camera: this.camera, args: args.join(' ') }, 'starting gst-launch-1.0');
    const gst = new LaunchedPipeline(args, this.clock);
    // The pipes are read to their end even after an abort: closing them early would kill
    // gst-launch with SIGPIPE in the middle of the end of stream that closes the camera properly.
    const onAbort = () => void gst.end();
    signal.addEventListener('abort', onAbort, { once: true });
    // Images (fd 3) and their times (stdout, stderr) meet here; the session yields what comes out.
    const frames = new Inbox<SessionFrame>();
    const pairer = new StampPairer((f) => frames.push(f), this.clock);
    pairer.onGiveUp = (why) => this.log.warn({ camera: this.camera, why }, 'GStreamer frame times lost; arrival times until the next session');
    const times = new GstTimes((s) => pairer.stamp(s), (line) => gst.stderr.push(line), pipelineTimeSource(splitPipeline(this.#config.pipeline)));
    times.onUnusable = (why) => this.log.warn({ camera: this.camera, why }, 'no GStreamer frame times; using arrival times');
    gst.child.stdout!.setEncoding('utf8').on('data', (d: string) => times.stdout(d));
    gst.child.stderr!.setEncoding('utf8').on('data', (d: string) => times.stderr(d));
    const splitter = new JpegSplitter({ maxFrameBytes: maxFrameBytes(this.#config.maxFrameMB) });
    let corruptSeen = 0;
    let tooLargeSeen = 0;
    gst.jpegs.on('data', (chunk: Buffer) => {
      if (signal.aborted) return;
      for (const data of splitter.push(chunk)) pairer.image({ kind: 'encoded', data });
      for (; corruptSeen < splitter.corrupt; corruptSeen++) this.decodeError('gst-launch-1.0 wrote a malformed JPEG');
      for (; tooLargeSeen < splitter.tooLarge; tooLargeSeen++) this.frameTooLarge(splitter.maxFrameBytes);
    });
    void gst.closed.then(() => {
      pairer.end();
      frames.end();
    });
    try {
      for await (const frame of frames.drain()) {
        if (!signal.aborted) yield frame;
      }
      const exit = await gst.closed;
      if (signal.aborted) return;
      if (splitter.pending > 0) this.decodeError(`pipeline ended mid-frame (${splitter.pending} bytes)`);
      if (exit.error) throw new Error(`cannot run ${launchProgram}: ${exit.error.message}`);
      const why = gst.stderr.reason();
      const how = exit.signal ? `was killed by ${exit.signal}` : exit.code === 0 ? 'reached the end of the stream' : `exited with code ${exit.code}`;
      throw new Error(`${launchProgram} ${how}${why ? `: ${why}` : ''}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      pairer.end();
      await gst.end();
    }
  }
}
