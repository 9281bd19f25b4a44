// A camera read through a GStreamer pipeline run by gst-launch-1.0 as a child process: Jetson
// CSI cameras (nvarguscamerasrc), GigE Vision (aravissrc), hardware decoders. The configured
// pipeline ends in raw video; Linesight appends `jpegenc ! fdsink fd=1` and splits stdout into
// JPEGs. StreamSource reconnects when the process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit, stopChild } from './child-process.js';
import type { Clock } from '../clock.js';
import type { GstreamerSourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { JpegSplitter } from './jpeg-stream.js';
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
  return ['-q', '-e', ...pipeline, '!', 'jpegenc', `quality=${config.jpegQuality}`, '!', 'fdsink', 'fd=1'];
}

/** The source element (`nvarguscamerasrc sensor-id=0 ! …` → nvarguscamerasrc); none for URIs, bins, caps. */
export function firstElement(pipeline: readonly string[]): string | undefined {
  return /^([A-Za-z][A-Za-z0-9_+-]*)(?:!|$)/.exec(pipeline[0] ?? '')?.[1];
}

/** What gst-launch wrote to stderr; its first ERROR (or WARNING) line says why the pipeline stopped. */
class StderrTail {
  #text = '';

  push(chunk: Buffer): void {
    this.#text = (this.#text + chunk.toString('utf8')).slice(-stderrKeep);
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

/** One gst-launch-1.0 process: its stdout is the JPEG stream. */
class LaunchedPipeline {
  readonly child: ChildProcess;
  readonly stderr = new StderrTail();
  /** Settles once the process is gone and stderr is read to its end. */
  readonly closed: Promise<Exit>;
  readonly #clock: Clock;
  #ending: Promise<void> | undefined;

  constructor(args: string[], clock: Clock) {
    this.#clock = clock;
    this.child = spawn(launchProgram, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(this.child);
    this.child.stderr!.on('data', (d: Buffer) => this.stderr.push(d));
    let error: Error | undefined;
    this.closed = new Promise((resolve) => {
      this.child.once('error', (err) => (error = err));
      this.child.once('close', (code, signal) => resolve({ code, signal, ...(error ? { error } : {}) }));
    });
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
    // stdout is read to its end even after an abort: closing it early would kill gst-launch with
    // SIGPIPE in the middle of the end of stream that closes the camera properly.
    const onAbort = () => void gst.end();
    signal.addEventListener('abort', onAbort, { once: true });
    const splitter = new JpegSplitter();
    let corruptSeen = 0;
    try {
      for await (const chunk of gst.child.stdout! as AsyncIterable<Buffer>) {
        if (signal.aborted) continue;
        for (const data of splitter.push(chunk)) yield { image: { kind: 'encoded', data } };
        for (; corruptSeen < splitter.corrupt; corruptSeen++) this.decodeError('gst-launch-1.0 wrote a malformed JPEG');
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
      await gst.end();
    }
  }
}
