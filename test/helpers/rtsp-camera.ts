// A real RTSP camera for tests: test/fixtures/rtsp-server.py (gst-rtsp-server) on a free
// loopback port, run by Debian's python3, which has the GObject bindings (the pyenv one first
// on PATH does not). With `stamped`, the benchmark's camera instead, whose frames carry their
// capture time (benchmarks/fixtures/stamp.ts reads it back; frames at least 768 pixels wide).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, repo } from './env.js';

export interface RtspCamera {
  url: string;
  port: number;
  readonly process: ChildProcess;
  /** SIGKILL: the camera vanishes mid-stream, as on a power cut. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown. */
  stop(): Promise<void>;
  /** Stops it (if running) and starts it again on the same port. */
  restart(): Promise<void>;
}

export interface RtspCameraOptions {
  width?: number;
  height?: number;
  fps?: number;
  mount?: string;
  /** benchmarks/fixtures/stamped-rtsp-camera.py: the capture time in every frame (mount /cam). */
  stamped?: boolean;
}

type TestContext = { after: (fn: () => void | Promise<void>) => void };

const python = '/usr/bin/python3';
const script = join(repo, 'test', 'fixtures', 'rtsp-server.py');
const stampedScript = join(repo, 'benchmarks', 'fixtures', 'stamped-rtsp-camera.py');

/** Resolves on the fixture's "ready" line; rejects with its stderr if it exits or stays silent. */
function waitReady(proc: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`RTSP camera not ready within ${ms} ms; stderr: ${stderr.trim()}`)), ms);
    const onOut = (d: Buffer) => {
      stdout += d;
      if (/^ready /m.test(stdout)) done();
    };
    const onErr = (d: Buffer) => (stderr += d);
    const onExit = (code: number | null) => fail(new Error(`RTSP camera exited (code ${code}) before it was ready: ${stderr.trim()}`));
    const onError = (err: Error) => fail(new Error(`cannot run ${python} (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0): ${err.message}`));
    const cleanup = () => {
      clearTimeout(timer);
      proc.stdout!.off('data', onOut);
      proc.off('exit', onExit);
      proc.off('error', onError);
    };
    const done = () => (cleanup(), resolve());
    const fail = (err: Error) => (cleanup(), reject(err));
    proc.stdout!.on('data', onOut);
    proc.stderr!.on('data', onErr);
    proc.once('exit', onExit);
    proc.once('error', onError);
  });
}

export async function startRtspCamera(t: TestContext, options: RtspCameraOptions = {}): Promise<RtspCamera> {
  const { width = 640, height = 480, fps = 10, stamped = false } = options;
  const mount = stamped ? '/cam' : (options.mount ?? '/cam');
  const port = await freePort();
  let proc!: ChildProcess;

  const launch = async () => {
    const args = stamped ? [stampedScript, String(port), String(width), String(height), String(fps)] : [script, String(port), mount, String(width), String(height), String(fps)];
    proc = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Even if the test run is cut short, no camera outlives it.
    const reap = () => proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.off('exit', reap));
    await waitReady(proc, 10_000);
  };

  const end = async (signal: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  };

  await launch();
  const camera: RtspCamera = {
    url: `rtsp://127.0.0.1:${port}${mount}`,
    port,
    get process() {
      return proc;
    },
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async restart() {
      await end('SIGTERM');
      await launch();
    },
  };
  t.after(() => camera.stop());
  return camera;
}
