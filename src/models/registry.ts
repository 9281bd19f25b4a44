// Model versions on disk: models/<name>/<version>/{manifest.json, model file}. A version is
// only handed out after its manifest validates and its bytes match the manifest's sha256;
// the verified bytes (not the path) go to the workers, so what was checked is what runs.
import { createHash } from 'node:crypto';
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LinesightError } from '../errors.js';
import type { KeyObject } from 'node:crypto';
import { MANIFEST_FILE, manifestLimits, manifestProblems, type ModelManifest } from './manifest.js';
import { checkSignature } from './signature.js';

export interface ModelVersion {
  readonly manifest: ModelManifest;
  /** The manifest exactly as in the file (no defaults filled in): what a signature covers. */
  readonly raw: Record<string, unknown>;
  readonly dir: string;
  /** Verified model bytes in shared memory: every worker reads the same copy. */
  readonly bytes: Uint8Array;
  /** Identifies this exact model build in worker caches. */
  readonly key: string;
  /** The golden samples, read and checked against their sha256 once: the golden check runs on these bytes. */
  readonly golden: readonly GoldenSample[];
}

export interface GoldenSample {
  readonly file: string;
  readonly verdict: 'pass' | 'fail' | 'uncertain';
  readonly sha256: string;
  readonly bytes: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Orders versions numerically where they are numbers (1.10.0 after 1.9.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

export function parseModelRef(ref: string): { name: string; version?: string } {
  const at = ref.indexOf('@');
  return at < 0 ? { name: ref } : { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

export async function readManifest(dir: string): Promise<{ manifest: ModelManifest; raw: Record<string, unknown> }> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  let parsed: unknown;
  try {
    text = (await readCapped(path, manifestLimits.fileBytes, 'manifest.json')).toString('utf8');
    parsed = JSON.parse(text);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no manifest.json' : (err as Error).message;
    throw new LinesightError('LS_ERR_MODEL_MANIFEST', why, { args: [path], cause: err });
  }
  // Validation fills in defaults; the signature is over the file as written, so keep a copy.
  const raw = JSON.parse(text) as Record<string, unknown>;
  const { manifest, problems } = manifestProblems(parsed);
  if (!manifest) throw new LinesightError('LS_ERR_MODEL_MANIFEST', problems.join('; '), { args: [path] });
  return { manifest, raw };
}

export interface LoadOptions {
  /** Trusted ed25519 public keys; when non-empty every version must be signed by one. */
  keys?: readonly KeyObject[];
}

/**
 * A whole file, refused (with a message naming `what` and the cap) when larger than `max` bytes;
 * the size is checked before reading and again on what was read, in case the file grew.
 */
async function readCapped(path: string, max: number, what: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    if (size > max) throw new Error(`${what} is ${size} bytes, over the ${max}-byte limit`);
    const buf = Buffer.alloc(size + 1);
    const { bytesRead } = await handle.read(buf, 0, size + 1, 0);
    if (bytesRead > size) throw new Error(`${what} grew while being read`);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Reads every golden sample once and checks it against the manifest's sha256, which the
 * signature covers. With trusted keys, a sample without a sha256 is refused: anyone who can
 * write the directory could swap it and let a bad version through its own gate.
 */
async function loadGolden(dir: string, manifest: ModelManifest, signed: boolean): Promise<GoldenSample[]> {
  const id = `${manifest.name}@${manifest.version}`;
  const out: GoldenSample[] = [];
  let total = 0;
  for (const [i, g] of (manifest.golden ?? []).entries()) {
    if (signed && !g.sha256) {
      throw new LinesightError('LS_ERR_SIGNATURE', `${id}: golden[${i}] (${g.file}) has no sha256, so the signature does not cover it; run \`linesight models sign\` to add it`);
    }
    let bytes: Buffer;
    try {
      bytes = await readCapped(join(dir, g.file), manifestLimits.goldenBytes, g.file);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new LinesightError('LS_ERR_MODEL_GOLDEN', `${id}: golden[${i}] ${g.file}: ${why}`, { cause: err });
    }
    total += bytes.byteLength;
    if (total > manifestLimits.goldenTotalBytes) {
      throw new LinesightError('LS_ERR_MODEL_GOLDEN', `${id}: golden samples total over ${manifestLimits.goldenTotalBytes} bytes (at ${g.file})`);
    }
    const actual = sha256Hex(bytes);
    if (g.sha256 && actual !== g.sha256) {
      throw new LinesightError('LS_ERR_GOLDEN_CHECKSUM', `${g.file} has sha256 ${actual}, manifest says ${g.sha256}`);
    }
    out.push({ file: g.file, verdict: g.verdict, sha256: actual, bytes });
  }
  return out;
}

/** Reads and verifies one version directory: manifest, signature, model checksum, golden checksums. */
export async function loadModelVersion(dir: string, options: LoadOptions = {}): Promise<ModelVersion> {
  const { manifest, raw } = await readManifest(dir);
  checkSignature(manifest, raw, options.keys ?? []);
  const file = join(dir, manifest.file);
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new LinesightError('LS_ERR_MODEL_FILE', (err as Error).message, { args: [file], cause: err });
  }
  const actual = sha256Hex(data);
  if (actual !== manifest.sha256) {
    throw new LinesightError('LS_ERR_MODEL_CHECKSUM', `${file} has sha256 ${actual}, manifest says ${manifest.sha256}`);
  }
  const bytes = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  bytes.set(data);
  const golden = await loadGolden(dir, manifest, (options.keys ?? []).length > 0);
  // The key covers the manifest too: the same weights fed differently are a different model.
  const identity = sha256Hex(Buffer.from(JSON.stringify(manifest) + actual)).slice(0, 12);
  return { manifest, raw, dir, bytes, key: `${manifest.name}@${manifest.version}#${identity}`, golden };
}

export class ModelRegistry {
  readonly #root: string;
  readonly #options: LoadOptions;

  constructor(root: string, options: LoadOptions = {}) {
    this.#root = root;
    this.#options = options;
  }

  /** Model names: directories of the root that hold at least one version. */
  async names(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.#root, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  }

  get root(): string {
    return this.#root;
  }

  async versions(name: string): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(join(this.#root, name), { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(compareVersions);
  }

  /** `name` or `name@version`; without a version, the highest one. */
  async resolve(ref: string): Promise<ModelVersion> {
    const { name, version } = parseModelRef(ref);
    const versions = await this.versions(name);
    const chosen = version ?? versions.at(-1);
    if (!chosen || !versions.includes(chosen)) {
      const known = versions.length ? `known versions: ${versions.join(', ')}` : `no versions under ${join(this.#root, name)}`;
      throw new LinesightError('LS_ERR_MODEL_NOT_FOUND', known, { args: [ref] });
    }
    const mv = await loadModelVersion(join(this.#root, name, chosen), this.#options);
    if (mv.manifest.name !== name || mv.manifest.version !== chosen) {
      throw new LinesightError(
        'LS_ERR_MODEL_MANIFEST',
        `manifest names ${mv.manifest.name}@${mv.manifest.version} but lives in ${name}/${chosen}`,
        { args: [join(mv.dir, MANIFEST_FILE)] },
      );
    }
    return mv;
  }
}
