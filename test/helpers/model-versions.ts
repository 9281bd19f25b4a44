// Model versions for lifecycle tests, made from the bundled label-orientation model.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelsDir } from './env.js';

const bundled = join(modelsDir, 'label-orientation', '1.0.0');
export const bundledManifest = JSON.parse(readFileSync(join(bundled, 'manifest.json'), 'utf8')) as Record<string, any>;

/** Writes models/<name>/<version>/ under `root`; `change` edits the manifest; returns the dir. */
export function makeVersion(root: string, version: string, change: (m: Record<string, any>) => void = () => {}, options: { modelBytes?: Buffer } = {}): string {
  const dir = join(root, 'label-orientation', version);
  mkdirSync(dir, { recursive: true });
  if (options.modelBytes) writeFileSync(join(dir, 'model.onnx'), options.modelBytes);
  else copyFileSync(join(bundled, 'model.onnx'), join(dir, 'model.onnx'));
  const m = structuredClone(bundledManifest);
  m.version = version;
  change(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}
