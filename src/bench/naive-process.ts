// The memory bench's baseline: the script a user would write instead of the service, in a
// process of its own so its RSS is its alone. One thread reads each frame from disk at the rate
// asked (as the bench's camera does), decodes it with sharp, runs the model and drops the
// result: no workers, no broker, no station, nothing kept. Protocol over the IPC channel: the
// parent sends the job; this process answers { ready } after a warm-up, runs until { stop },
// then answers { parts, late } and exits.
import { readFileSync } from 'node:fs';
import { monotonicMs } from '../clock.js';
import { ModelRegistry } from '../models/registry.js';
import { openNaiveLoop } from './naive-loop.js';

export interface NaiveJob {
  modelsDir: string;
  model: string;
  frames: string[];
  ratePerSec: number;
}

const send = (m: unknown, then?: () => void) => process.send?.(m, undefined, {}, then);

process.once('message', (job: NaiveJob) => {
  void run(job).catch((err: Error) => {
    send({ error: err.message });
    process.exit(1);
  });
});

async function run(job: NaiveJob): Promise<void> {
  const { manifest, bytes } = await new ModelRegistry(job.modelsDir).resolve(job.model);
  const loop = await openNaiveLoop(bytes, manifest);
  const once = (i: number) => loop.once(readFileSync(job.frames[i % job.frames.length]!));
  for (let i = 0; i < 3; i++) await once(i);
  let stopped = false;
  process.on('message', (m: { stop?: boolean }) => void (m.stop && (stopped = true)));
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
  const interval = 1000 / job.ratePerSec;
  let due = monotonicMs();
  let parts = 0;
  let late = 0;
  while (!stopped) {
    await once(parts++);
    due += interval;
    const wait = due - monotonicMs();
    if (wait < 0) late++;
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
  }
  await loop.dispose();
  send({ parts, late }, () => process.exit(0));
}
