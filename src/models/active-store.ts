// Which model version each station serves, and what it served before (for rollback), kept on
// disk so a restart comes back on the same version. Written atomically: a crash mid-write
// leaves the previous file, never half of one.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface StationModelState {
  active: string;
  /** Previously active versions, oldest first. */
  history: string[];
}

export type ActiveState = Record<string, StationModelState>;

interface StateFile {
  stations?: ActiveState;
  knownVersions?: string[];
}

export class ActiveModelStore {
  readonly #file: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(directory: string) {
    this.#file = join(directory, 'active-models.json');
  }

  get file(): string {
    return this.#file;
  }

  async #read(): Promise<StateFile> {
    try {
      return JSON.parse(await readFile(this.#file, 'utf8')) as StateFile;
    } catch {
      // Missing (first start) or corrupt: a bad state file must not stop the line; start from the config.
      return {};
    }
  }

  async load(): Promise<ActiveState> {
    return (await this.#read()).stations ?? {};
  }

  /**
   * Every name@version that was on disk at the last start, or null when never recorded (first
   * start): versions not in it arrived while the service was stopped.
   */
  async knownVersions(): Promise<Set<string> | null> {
    const known = (await this.#read()).knownVersions;
    return Array.isArray(known) ? new Set(known) : null;
  }

  setKnownVersions(ids: readonly string[]): Promise<void> {
    return this.#write((file) => ({ ...file, knownVersions: [...ids].sort() }));
  }

  /** Serialised read-modify-write of one station's entry. */
  update(station: string, fn: (current: StationModelState | undefined) => StationModelState): Promise<void> {
    return this.#write((file) => ({ ...file, stations: { ...file.stations, [station]: fn(file.stations?.[station]) } }));
  }

  #write(fn: (file: StateFile) => StateFile): Promise<void> {
    const next = this.#chain.then(async () => {
      const state = fn(await this.#read());
      await mkdir(dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
      await rename(tmp, this.#file);
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
