// A model version uploaded as one archive (tar or tar.gz of the version directory). Entries are
// checked before anything is written where the registry can see it: only plain files and
// directories, no absolute paths or "..", a size limit; the version is verified in a staging
// directory and appears in the models directory by one rename, so it is never seen half-written.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { LinesightError } from '../errors.js';
import { MANIFEST_FILE } from './manifest.js';
import { loadModelVersion, type LoadOptions, type ModelVersion } from './registry.js';

export interface InstallOptions extends LoadOptions {
  root: string;
  maxBytes: number;
}

function entryProblem(path: string, type: string): string | undefined {
  if (type !== 'File' && type !== 'OldFile' && type !== 'Directory') return `${path}: ${type} entries are not allowed (plain files and directories only)`;
  if (isAbsolute(path) || path.startsWith('\\')) return `${path}: absolute paths are not allowed`;
  const n = normalize(path);
  if (n === '..' || n.startsWith(`..${sep}`) || n.split(sep).includes('..')) return `${path}: ".." is not allowed`;
  return undefined;
}

/** The directory inside `dir` holding manifest.json: dir itself, or a single chain of subdirectories. */
async function findVersionDir(dir: string): Promise<string> {
  for (let depth = 0; depth < 3; depth++) {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === MANIFEST_FILE)) return dir;
    const dirs = entries.filter((e) => e.isDirectory());
    if (dirs.length !== 1 || entries.length !== 1) break;
    dir = join(dir, dirs[0]!.name);
  }
  throw new LinesightError('LS_ERR_MODEL_ARCHIVE', `no ${MANIFEST_FILE} at the top of the archive or under a single <version>/ or <name>/<version>/ directory`);
}

export async function installArchive(archive: Buffer, options: InstallOptions): Promise<ModelVersion> {
  if (archive.length > options.maxBytes) throw new LinesightError('LS_ERR_MODEL_ARCHIVE', `archive is ${archive.length} bytes, the limit is ${options.maxBytes}`);
  const staging = join(options.root, `.staging-${randomUUID()}`);
  await mkdir(staging, { recursive: true });
  try {
    let total = 0;
    const problems: string[] = [];
    try {
      await pipeline(
        Readable.from([archive]),
        tar.x({
          cwd: staging,
          strict: true,
          preservePaths: false,
          filter: (path, entry) => {
            const type = 'type' in entry ? String(entry.type) : 'File';
            const problem = entryProblem(path, type);
            if (problem) {
              problems.push(problem);
              return false;
            }
            total += 'size' in entry ? Number(entry.size ?? 0) : 0;
            if (total > options.maxBytes) {
              problems.push(`unpacked size exceeds ${options.maxBytes} bytes`);
              return false;
            }
            return true;
          },
        }),
      );
    } catch (err) {
      throw new LinesightError('LS_ERR_MODEL_ARCHIVE', `not a readable tar/tar.gz archive: ${(err as Error).message}`);
    }
    if (problems.length) throw new LinesightError('LS_ERR_MODEL_ARCHIVE', [...new Set(problems)].slice(0, 5).join('; '));
    const versionDir = await findVersionDir(staging);
    const staged = await loadModelVersion(versionDir, options);
    const { name, version } = staged.manifest;
    const target = join(options.root, name, version);
    const exists = await stat(target).then(() => true, () => false);
    if (exists) throw new LinesightError('LS_ERR_MODEL_EXISTS', 'upload a new version number instead of replacing one', { args: [`${name}@${version}`] });
    await mkdir(join(options.root, name), { recursive: true });
    await rename(versionDir, target);
    return { ...staged, dir: target };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
