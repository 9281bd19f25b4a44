// New model versions dropped into the models directory (by hand, rsync, or a Greengrass model
// component) are noticed by scanning. A version directory is offered only after it looks the
// same on two consecutive scans (the copy has stopped) and its files verify; a half-copied one
// fails its checksum and waits until it changes. Dot-directories are staging areas and ignored.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../clock.js';
import { isLinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadModelVersion, type LoadOptions } from './registry.js';

export interface ModelWatcherOptions extends LoadOptions {
  root: string;
  intervalMs: number;
  clock: Clock;
  log: Logger;
  /** Called once per complete, verified new version. */
  onVersion: (name: string, version: string) => Promise<unknown>;
}

async function fingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p, `${prefix}${e.name}/`);
      else {
        const s = await stat(p);
        parts.push(`${prefix}${e.name}:${s.size}:${s.mtimeMs}`);
      }
    }
  };
  await walk(dir, '');
  return parts.join('|');
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
}

export class ModelWatcher {
  readonly #o: ModelWatcherOptions;
  /** name@version → fingerprint when it was last handled. */
  readonly #handled = new Map<string, string>();
  /** name@version → fingerprint seen on the previous scan, not yet handled. */
  readonly #pending = new Map<string, string>();
  #timer: TimerHandle | undefined;
  #scanning: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ModelWatcherOptions) {
    this.#o = options;
  }

  /** Versions present at start are the starting point, not news. */
  async start(): Promise<void> {
    for (const name of await subdirs(this.#o.root)) {
      for (const version of await subdirs(join(this.#o.root, name))) {
        this.#handled.set(`${name}@${version}`, await fingerprint(join(this.#o.root, name, version)).catch(() => ''));
      }
    }
    this.#schedule();
  }

  /** A version installed by another path (the upload API) is already handled. */
  async markHandled(name: string, version: string): Promise<void> {
    this.#handled.set(`${name}@${version}`, await fingerprint(join(this.#o.root, name, version)).catch(() => ''));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimer(this.#o.intervalMs, () => {
      this.scan().finally(() => this.#schedule());
    });
  }

  /** One pass over the directory; public so tests and tools can drive it step by step. */
  scan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    for (const name of await subdirs(this.#o.root)) {
      for (const version of await subdirs(join(this.#o.root, name))) {
        if (this.#stopped) return;
        const id = `${name}@${version}`;
        const dir = join(this.#o.root, name, version);
        const fp = await fingerprint(dir).catch(() => '');
        if (this.#handled.get(id) === fp) continue;
        if (this.#pending.get(id) !== fp) {
          this.#pending.set(id, fp); // changed since last scan: still being written
          continue;
        }
        this.#pending.delete(id);
        this.#handled.set(id, fp);
        try {
          await loadModelVersion(dir, this.#o);
        } catch (err) {
          const incomplete = isLinesightError(err, 'LS_ERR_MODEL_CHECKSUM') || isLinesightError(err, 'LS_ERR_MODEL_MANIFEST') || isLinesightError(err, 'LS_ERR_MODEL_FILE');
          this.#o.log.warn({ model: id, err }, incomplete ? 'new model version not loaded: incomplete or damaged; waiting for it to change' : 'new model version refused');
          continue;
        }
        this.#o.log.info({ model: id }, 'new model version found');
        await this.#o.onVersion(name, version).catch((err) => this.#o.log.error({ model: id, err }, 'new model version not activated'));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#scanning;
  }
}
