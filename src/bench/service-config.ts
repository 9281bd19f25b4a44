// The service's configuration for one load point: one free-run station replaying the bench frames
// at the asked rate into the model, the embedded broker, no HTTP API. What the bench recommends
// is the `inference` part of it.
import { buildConfig } from '../config/load.js';
import type { ExecutionProvider } from '../inference/runtimes/runtime.js';

export interface LoadPoint {
  modelsDir: string;
  model: string;
  framesDir: string;
  workers: number;
  intraOpThreads: number;
  provider: ExecutionProvider;
  budgetMs: number;
  ratePerSec: number;
  seconds: number;
  warmupSeconds: number;
  /** inference.freeBuffersEarly (the memory bench's variant). */
  freeBuffersEarly?: boolean;
}

export const benchLine = 'bench';
export const benchCamera = 'cam1';

export function serviceConfig(p: LoadPoint, stateDir: string) {
  return buildConfig(
    {
      line: benchLine,
      // A camera keeps its own clock: a frame due while the service was busy still comes (late,
      // stamped when due), so the rate asked is the rate offered and the delay counts as latency.
      stations: [{ id: benchCamera, source: { type: 'replay', path: p.framesDir, ratePerSec: Math.min(1000, p.ratePerSec), keepSchedule: true }, model: p.model, budgetMs: p.budgetMs }],
      models: { directory: p.modelsDir, watch: false },
      state: { directory: stateDir },
      inference: { workers: p.workers, intraOpThreads: p.intraOpThreads, executionProviders: [p.provider], freeBuffersEarly: p.freeBuffersEarly ?? false },
      mqtt: { embedded: { port: 0 } },
      api: { enabled: false },
      summary: { intervalMs: 0 },
    },
    { origin: 'linesight bench', baseDir: '/' },
  );
}
