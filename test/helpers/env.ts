// Small helpers shared by tests: temp dirs, free ports, bundled paths, waiting on events.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

export const repo = packageRoot;
export const samplesDir = join(packageRoot, 'samples', 'label-orientation');
export const modelsDir = join(packageRoot, 'models');
export const truncatedJpeg = join(packageRoot, 'test', 'fixtures', 'truncated.jpg');
export const cli = join(packageRoot, 'dist', 'src', 'cli.js');

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'linesight-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `count` items have been collected by `collect`, or rejects after `ms`. */
export function collectUntil<T>(subscribe: (push: (item: T) => void) => void, count: number, ms: number, what: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${count} ${what}; got ${items.length}`)), ms);
    subscribe((item) => {
      items.push(item);
      if (items.length === count) {
        clearTimeout(timer);
        resolve(items);
      }
    });
  });
}

export interface ExpectedParts {
  thresholds: { pass: number; fail: number };
  parts: Record<string, { verdict: 'pass' | 'fail' | 'uncertain'; label: string; scores: [number, number] }>;
}

/**
 * Polls `cond` until it holds, or fails after `ms` naming `what` (and `state()`, when given, to
 * show how far it got). For state with no event to await: health, metrics, a subscriber's list.
 */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, state?: () => unknown): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
