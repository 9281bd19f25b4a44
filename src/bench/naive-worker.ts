// One naive loop (decode with sharp, then session.run, then the next frame) in a worker thread.
// The bench starts one per core at once: together they measure what this box's cores deliver in
// parallel with no service around them. On a box whose "cores" share execution units (SMT
// siblings, a busy host) that is well below cores x one loop, and it is the honest ceiling.
import { parentPort, workerData } from 'node:worker_threads';
import { monotonicMs } from '../clock.js';
import type { ModelManifest } from '../models/manifest.js';
import { openNaiveLoop } from './naive-loop.js';

export interface NaiveWorkerData {
  bytes: Uint8Array;
  manifest: ModelManifest;
  frames: Uint8Array[];
  seconds: number;
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const { bytes, manifest, frames, seconds } = workerData as NaiveWorkerData;
  const loop = await openNaiveLoop(bytes, manifest);
  const once = (i: number) => loop.once(frames[i % frames.length]!);
  for (let i = 0; i < 3; i++) await once(i);
  port.postMessage({ ready: true });
  // All loops start together, so each one's window overlaps the others'.
  await new Promise((resolve) => port.once('message', resolve));
  const t0 = monotonicMs();
  let n = 0;
  while (monotonicMs() - t0 < seconds * 1000) await once(n++);
  port.postMessage({ runs: n, ms: monotonicMs() - t0 });
  await loop.dispose();
}

void main();
