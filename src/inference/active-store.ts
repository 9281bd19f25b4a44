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

export class ActiveModelStore {
  readonly #file: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(directory: string) {
    this.#file = join(directory, 'active-models.json');
  }

  get file(): string {
    return this.#file;
  }

  async load(): Promise<ActiveState> {
    try {
      const parsed = JSON.parse(await readFile(this.#file, 'utf8')) as { stations?: ActiveState };
      return parsed.stations ?? {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      // A corrupt state file must not stop the line: start from the configured models.
      return {};
    }
  }

  /** Serialised read-modify-write of one station's entry. */
  update(station: string, fn: (current: StationModelState | undefined) => StationModelState): Promise<void> {
    const next = this.#chain.then(async () => {
      const state = await this.load();
      state[station] = fn(state[station]);
      await mkdir(dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ stations: state }, null, 2) + '\n');
      await rename(tmp, this.#file);
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
