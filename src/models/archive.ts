// A model version uploaded as one archive (tar or tar.gz of the version directory), read as a
// stream from a file (an upload staged on disk) or any readable. Entries are checked before
// anything is written where the registry can see it: only plain files and directories, no
// absolute paths or "..", a size limit; the version is verified in a staging directory and
// appears in the models directory by one rename, so it is never seen half-written.
//
// A small .tar.gz can unpack to far more than its size (a gzip bomb): the unpacked size is
// counted twice, from each entry's header before its bytes are written, and over the whole
// decompressed stream (which also holds headers and padding), and either count past the limit
// stops the extraction at once.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
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

/** Entries one archive may hold: a version directory has a handful; this bounds inode use and header overhead. */
export const MAX_ARCHIVE_ENTRIES = 10_000;

/** Padding accepted after the end of the tar archive. */
const MAX_TRAILING_BYTES = 1024 * 1024;

const gzipMagic = [0x1f, 0x8b];
const zstdMagic = [0x28, 0xb5, 0x2f, 0xfd];
const startsWith = (b: Buffer, magic: number[]) => magic.every((m, i) => b[i] === m);

/**
 * Counts the decompressed tar stream and fails past `limit`. It also refuses a compressed stream
 * here (zstd, or gzip inside the gzip): tar would unpack that itself, where nothing counts it.
 */
class TarStreamLimit extends Transform {
  #bytes = 0;
  #head: Buffer | undefined = Buffer.alloc(0);
  /** Bytes seen after tar's end-of-archive blocks, or -1 before them. */
  #trailing = -1;

  constructor(readonly limit: number) {
    super();
  }

  /**
   * Tar has read its end-of-archive blocks. What follows is padding (GNU tar fills its last
   * 10 KiB record) and is dropped here: tar keeps everything after the end in one buffer it
   * grows by concatenation, so megabytes of it cost memory and quadratic time.
   */
  endOfArchive(): void {
    if (this.#trailing < 0) this.#trailing = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.limit) return done(archiveError(`unpacks to more than ${this.limit} bytes of tar stream (models.maxUploadMB plus headers); not installed`));
    if (this.#trailing >= 0) {
      this.#trailing += chunk.length;
      return done(this.#trailing > MAX_TRAILING_BYTES ? archiveError(`more than ${MAX_TRAILING_BYTES} bytes after the end of the tar archive`) : undefined);
    }
    if (this.#head) {
      this.#head = Buffer.concat([this.#head, chunk]);
      if (this.#head.length < 4) return done();
      if (startsWith(this.#head, gzipMagic) || startsWith(this.#head, zstdMagic)) return done(archiveError('zstd, or a compressed stream inside the gzip, is not accepted (send a tar or a tar.gz)'));
      chunk = this.#head;
      this.#head = undefined;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.#head?.length) this.push(this.#head);
    done();
  }
}

function archiveError(detail: string): LinesightError {
  return new LinesightError('LS_ERR_MODEL_ARCHIVE', detail);
}

/** The first bytes of `source`, put back so the stream still starts at byte 0. */
async function peek(source: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    if (source.readableEnded || source.destroyed) break;
    await new Promise<void>((resolve) => {
      const on = () => {
        source.off('readable', on).off('end', on).off('close', on).off('error', on);
        resolve();
      };
      source.on('readable', on).on('end', on).on('close', on).on('error', on);
    });
    if (source.errored) throw source.errored;
  }
  const head = Buffer.concat(chunks);
  if (head.length) source.unshift(head);
  return head;
}

/**
 * Installs the archive in `source` (a file path, or a stream) as a new version under
 * options.root. Refusals are LS_ERR_MODEL_ARCHIVE naming the entry or the limit, and leave
 * nothing behind; the version's own checks (manifest, checksum, signature) follow.
 */
export async function installArchive(source: string | Readable, options: InstallOptions): Promise<ModelVersion> {
  const input = typeof source === 'string' ? createReadStream(source) : source;
  const staging = join(options.root, `.staging-${randomUUID()}`);
  try {
    if (typeof source === 'string') {
      const { size } = await stat(source);
      if (size > options.maxBytes) throw archiveError(`archive is ${size} bytes, the limit is ${options.maxBytes} (models.maxUploadMB)`);
    }
    await mkdir(staging, { recursive: true });
    await extract(input, staging, options.maxBytes);
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
    input.destroy();
    // Retries: writes of the extraction that was stopped may still be landing.
    await rm(staging, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
}

async function extract(input: Readable, staging: string, maxBytes: number): Promise<void> {
  // Stops the whole pipeline at the first refused entry: nothing after it is read or written.
  const stop = new AbortController();
  let problem: string | undefined;
  const refuse = (p: string) => {
    problem ??= p;
    // After tar's own bookkeeping for this entry, not from inside it.
    queueMicrotask(() => stop.abort());
    return false;
  };
  let total = 0;
  let entries = 0;
  const unpack = tar.x({
    cwd: staging,
    strict: true,
    preservePaths: false,
    filter: (path, entry) => {
      if (problem) return false;
      const type = 'type' in entry ? String(entry.type) : 'File';
      const p = entryProblem(path, type);
      if (p) return refuse(p);
      if (++entries > MAX_ARCHIVE_ENTRIES) return refuse(`more than ${MAX_ARCHIVE_ENTRIES} entries`);
      total += 'size' in entry ? Number(entry.size ?? 0) : 0;
      // Refused from the header, before this entry's bytes are decompressed or written.
      if (total > maxBytes) return refuse(`${path}: unpacked size exceeds ${maxBytes} bytes (models.maxUploadMB)`);
      return true;
    },
  });
  // Headers and padding: at most 1 KiB per entry, plus the end-of-archive blocks and slack.
  const limit = new TarStreamLimit(maxBytes + MAX_ARCHIVE_ENTRIES * 1024 + 1024 * 1024);
  unpack.on('eof', () => limit.endOfArchive());
  try {
    const head = await peek(input, 2);
    const inflate = startsWith(head, gzipMagic) ? createGunzip() : new PassThrough();
    await pipeline(input, inflate, limit, unpack, { signal: stop.signal });
  } catch (err) {
    if (problem) throw archiveError(problem);
    if (err instanceof LinesightError) throw err;
    throw archiveError(`not a readable tar/tar.gz archive: ${(err as Error).message}`);
  }
  if (problem) throw archiveError(problem);
}
