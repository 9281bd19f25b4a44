// Model versions for lifecycle tests, made from the bundled label-orientation model.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { modelsDir } from './env.js';

const bundled = join(modelsDir, 'label-orientation', '1.0.0');
export const bundledManifest = JSON.parse(readFileSync(join(bundled, 'manifest.json'), 'utf8')) as Record<string, any>;

/** Writes models/<name>/<version>/ under `root`; `change` edits the manifest; returns the dir. */
export interface GoldenFile {
  /** Path inside the version directory. */
  file: string;
  /** Image to copy there. */
  from: string;
  verdict: 'pass' | 'fail' | 'uncertain';
  /** Leave the sha256 out of the manifest (as before golden digests existed). */
  unpinned?: boolean;
}

/**
 * Writes models/<name>/<version>/ under `root`; `change` edits the manifest; golden images are
 * copied in and listed with their sha256 (as `linesight models sign` writes them); returns the dir.
 */
export function makeVersion(root: string, version: string, change: (m: Record<string, any>) => void = () => {}, options: { modelBytes?: Buffer; golden?: GoldenFile[] } = {}): string {
  const dir = join(root, 'label-orientation', version);
  mkdirSync(dir, { recursive: true });
  if (options.modelBytes) writeFileSync(join(dir, 'model.onnx'), options.modelBytes);
  else copyFileSync(join(bundled, 'model.onnx'), join(dir, 'model.onnx'));
  const m = structuredClone(bundledManifest);
  m.version = version;
  if (options.golden) {
    m.golden = options.golden.map((g) => {
      mkdirSync(dirname(join(dir, g.file)), { recursive: true });
      copyFileSync(g.from, join(dir, g.file));
      const sha256 = createHash('sha256').update(readFileSync(g.from)).digest('hex');
      return g.unpinned ? { file: g.file, verdict: g.verdict } : { file: g.file, verdict: g.verdict, sha256 };
    });
  }
  change(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}
