// Which models the bench sizes: a bundled model by name, a reference model by name (exported on
// first use by scripts/export-reference-models.py into the cache), or any model version
// directory (or its manifest.json) on disk. Each resolves to a models root + name@version, the
// way the service's config names a model, so the bench runs exactly what a station would.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LinesightError } from '../errors.js';
import { MANIFEST_FILE } from '../models/manifest.js';
import { ModelRegistry, readManifest, type ModelVersion } from '../models/registry.js';
import { bundledModelsDir, cacheDir, packageRoot } from '../paths.js';

export const referenceModels = ['mobilenetv3-small', 'mobilenetv2', 'efficientnet-b0', 'resnet50'] as const;
export const referenceModelsDir = join(cacheDir, 'reference-models');
export const exportScript = join(packageRoot, 'scripts', 'export-reference-models.py');
/** Debian's interpreter, where python3-torch lives (a virtualenv's python would not see it). */
export const systemPython = '/usr/bin/python3';

export interface BenchModel {
  /** Models directory the service is pointed at. */
  root: string;
  /** name@version inside it. */
  ref: string;
  version: ModelVersion;
}

/** Runs the export script for one reference model unless it is already in the cache. */
export function ensureReferenceModel(name: string, out = referenceModelsDir): void {
  const r = spawnSync(systemPython, [exportScript, '--models', name, '--out', out], { encoding: 'utf8', timeout: 600_000 });
  if (r.error) throw new LinesightError('LS_ERR_BENCH_REFERENCE_MODEL', `${systemPython}: ${r.error.message}`, { args: [name], cause: r.error });
  if (r.status !== 0) {
    const why = r.stderr.trim().split('\n').slice(-3).join(' ') || `exit ${r.status}`;
    throw new LinesightError('LS_ERR_BENCH_REFERENCE_MODEL', `${exportScript}: ${why}`, { args: [name] });
  }
}

async function fromDirectory(dir: string): Promise<BenchModel> {
  const { manifest } = await readManifest(dir);
  const root = dirname(dirname(dir));
  if (basename(dir) !== manifest.version || basename(dirname(dir)) !== manifest.name) {
    throw new LinesightError('LS_ERR_BENCH_OPTION', `${dir} holds ${manifest.name}@${manifest.version}, expected a <name>/<version>/ directory`, { args: ['--model'] });
  }
  const ref = `${manifest.name}@${manifest.version}`;
  return { root, ref, version: await new ModelRegistry(root).resolve(ref) };
}

/**
 * `spec` is a comma-separated list; "bundled" is every bundled model, "reference" the four
 * reference models. Unknown names are refused with the names known.
 */
export async function resolveBenchModels(spec: string): Promise<BenchModel[]> {
  const bundled = new ModelRegistry(bundledModelsDir);
  const bundledNames = await bundled.names();
  const out: BenchModel[] = [];
  for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (item === 'bundled' || item === 'reference') {
      out.push(...(await resolveBenchModels((item === 'bundled' ? bundledNames : referenceModels).join(','))));
      continue;
    }
    const path = resolve(item);
    if (/[/\\]/.test(item) || existsSync(path)) {
      if (!existsSync(path)) throw new LinesightError('LS_ERR_BENCH_OPTION', `${item}: no such file or directory`, { args: ['--model'] });
      out.push(await fromDirectory(statSync(path).isDirectory() ? path : dirname(path)));
      continue;
    }
    const name = item.split('@')[0]!;
    if (bundledNames.includes(name)) {
      const version = await bundled.resolve(item);
      out.push({ root: bundledModelsDir, ref: `${version.manifest.name}@${version.manifest.version}`, version });
    } else if ((referenceModels as readonly string[]).includes(name)) {
      ensureReferenceModel(name);
      const version = await new ModelRegistry(referenceModelsDir).resolve(item);
      out.push({ root: referenceModelsDir, ref: `${version.manifest.name}@${version.manifest.version}`, version });
    } else {
      throw new LinesightError('LS_ERR_BENCH_OPTION', `"${item}": not a bundled model (${bundledNames.join(', ')}), a reference model (${referenceModels.join(', ')}), "bundled", "reference", or a model directory / ${MANIFEST_FILE}`, { args: ['--model'] });
    }
  }
  return out;
}

/** A reference model's weights are random: its manifest says so, and so must every report. */
export function hasRandomWeights(version: ModelVersion): boolean {
  const weights = version.manifest.source?.['weights'];
  return typeof weights === 'string' && /random/i.test(weights);
}
