// A camera read with OpenCV's VideoCapture through the optional @u4/opencv4nodejs addon, for
// boxes that already build OpenCV (a vendor's camera backend, CAP_* drivers ffmpeg lacks). The
// addon is not a dependency: it compiles against the system OpenCV for minutes, so it is loaded
// only when a station asks for it, and its absence is a clear start error.
import type { Clock } from '../clock.js';
import type { OpencvSourceConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { StreamSource, type SessionFrame } from './stream-source.js';

/** In a variable, so TypeScript does not look for the package when compiling. */
const addonName: string = '@u4/opencv4nodejs';

export const openCvInstallHint =
  'install Debian libopencv-dev, then in the Linesight directory: OPENCV4NODEJS_DISABLE_AUTOBUILD=1 OPENCV_INCLUDE_DIR=/usr/include/opencv4 ' +
  'OPENCV_LIB_DIR=/usr/lib/x86_64-linux-gnu OPENCV_BIN_DIR=/usr/bin npm install @u4/opencv4nodejs ' +
  '(on arm64 boards OPENCV_LIB_DIR=/usr/lib/aarch64-linux-gnu)';

/** The few parts of opencv4nodejs used here. */
export interface OpenCvMat {
  readonly empty: boolean;
}

export interface OpenCvCapture {
  read(): OpenCvMat;
  /** Reads on libuv's thread pool; newer builds have it. */
  readAsync?(): Promise<OpenCvMat>;
  set(property: number, value: number): boolean;
  release(): void;
}

export interface OpenCv {
  VideoCapture: new (device: number | string) => OpenCvCapture;
  CAP_PROP_FRAME_WIDTH: number;
  CAP_PROP_FRAME_HEIGHT: number;
  imencode(ext: string, mat: OpenCvMat): Uint8Array;
  imencodeAsync?(ext: string, mat: OpenCvMat): Promise<Uint8Array>;
}

export interface OpencvSourceDeps {
  clock: Clock;
  log: Logger;
  /** Loads the addon; tests pass a stand-in since the real one is not installed. */
  loadOpenCv?: () => Promise<OpenCv>;
}

async function importOpenCv(): Promise<OpenCv> {
  const mod = (await import(addonName)) as { default?: OpenCv } & OpenCv;
  // A CommonJS addon: its exports arrive as the default export.
  return mod.default ?? mod;
}

export class OpencvSource extends StreamSource {
  readonly kind = 'opencv';
  readonly #config: OpencvSourceConfig;
  readonly #load: () => Promise<OpenCv>;
  #cv: OpenCv | undefined;

  constructor(camera: string, config: OpencvSourceConfig, deps: OpencvSourceDeps) {
    super({ camera, clock: deps.clock, log: deps.log, reconnect: config.reconnect });
    this.#config = config;
    this.#load = deps.loadOpenCv ?? importOpenCv;
  }

  protected async validate(): Promise<void> {
    try {
      this.#cv = await this.#load();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ERR_MODULE_NOT_FOUND' ? `${addonName} is not installed` : `${addonName} does not load (${e.message})`;
      throw new LinesightError('LS_ERR_SOURCE_UNAVAILABLE', `${why}; ${openCvInstallHint}`, { args: ['opencv'], cause: err });
    }
  }

  protected async *open(signal: AbortSignal): AsyncGenerator<SessionFrame> {
    const cv = this.#cv!;
    const { device, width, height } = this.#config;
    // Throws when the device cannot be opened (unplugged, busy): a failed session, retried. The
    // addon opens synchronously, so a slow network URL blocks the event loop while it connects:
    // network cameras belong on the ffmpeg or gstreamer sources.
    const capture = new cv.VideoCapture(device);
    if (width !== undefined) capture.set(cv.CAP_PROP_FRAME_WIDTH, width);
    if (height !== undefined) capture.set(cv.CAP_PROP_FRAME_HEIGHT, height);
    // A read in flight on the thread pool still uses the capture: release it only after that.
    let inFlight: Promise<unknown> = Promise.resolve();
    try {
      while (!signal.aborted) {
        const read = capture.readAsync ? capture.readAsync() : nextTurn().then(() => capture.read());
        inFlight = read.catch(() => undefined);
        // A read blocked on a dead camera cannot be cancelled; stop waiting for it instead.
        const mat = await untilAborted(read, signal);
        if (mat === undefined) return;
        if (mat.empty) throw new Error(`VideoCapture(${JSON.stringify(device)}) returned no frame (camera gone or end of file)`);
        const jpeg = cv.imencodeAsync ? await cv.imencodeAsync('.jpg', mat) : cv.imencode('.jpg', mat);
        if (signal.aborted) return;
        yield { image: { kind: 'encoded', data: jpeg } };
      }
    } finally {
      void inFlight.then(() => capture.release());
    }
  }
}

/** Lets timers and I/O run between synchronous reads. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The value of `work`, or undefined as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
