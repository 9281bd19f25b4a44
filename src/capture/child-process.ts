// What the process-based cameras (ffmpeg, gst-launch) share: no child outlives Node, and a
// session ends with a polite signal first, then SIGKILL.
import type { ChildProcess } from 'node:child_process';
import type { Clock } from '../clock.js';

// Children alive now. If Node exits without stopping its sources (an uncaught error,
// process.exit), they are killed with it; one that outlives a SIGKILLed Node dies of SIGPIPE at
// its next frame, since nothing reads its stdout any more.
const children = new Set<ChildProcess>();
let reaperInstalled = false;

export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('close', () => children.delete(child));
  child.once('exit', () => children.delete(child));
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
}

/**
 * Sends `signal`, then SIGKILL if the child is still there after `graceMs`; resolves when
 * `closed` does (the caller's promise for the child being gone).
 */
export async function stopChild(child: ChildProcess, closed: Promise<unknown>, options: { signal: NodeJS.Signals; graceMs: number; clock: Clock }): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill(options.signal);
  const kill = options.clock.setTimer(options.graceMs, () => child.kill('SIGKILL'));
  await closed;
  kill.cancel();
}

