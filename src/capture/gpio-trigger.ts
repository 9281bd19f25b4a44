// Parts announced by an edge on a GPIO line (photo-eye wired to the box), read through the
// Linux GPIO character device with Debian's `gpiomon` (package gpiod): no native addon, and the
// kernel timestamps each edge. Edges closer than the debounce interval are one part.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Trigger, TriggerEvent } from './trigger.js';

export interface GpioTriggerOptions {
  chip: string;
  line: number;
  edge: 'rising' | 'falling' | 'both';
  debounceMs: number;
  log: Logger;
  /** The gpiomon program; injectable for systems that install it elsewhere. */
  program?: string;
}

function chipPath(chip: string): string {
  return chip.startsWith('/') ? chip : `/dev/${chip}`;
}

export class GpioTrigger implements Trigger {
  readonly kind = 'gpio';
  readonly #o: GpioTriggerOptions;
  #child: ChildProcess | undefined;
  #stopped = false;
  #lastEdgeNs = -Infinity;

  constructor(options: GpioTriggerOptions) {
    this.#o = options;
  }

  async start(fire: (event: TriggerEvent) => void): Promise<void> {
    const { chip, line, edge } = this.#o;
    if (!existsSync(chipPath(chip))) {
      throw new LinesightError('LS_ERR_TRIGGER', `${chipPath(chip)} does not exist (no GPIO chip on this machine?)`, { args: [`gpio ${chip}:${line}`] });
    }
    const args = ['--line-buffered', '--format=%e %s %n', ...(edge === 'rising' ? ['--rising-edge'] : edge === 'falling' ? ['--falling-edge'] : []), chip.replace(/^\/dev\//, ''), String(line)];
    const child = spawn(this.#o.program ?? 'gpiomon', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new LinesightError('LS_ERR_TRIGGER', `cannot run gpiomon (apt-get install gpiod): ${err.message}`, { args: [`gpio ${chip}:${line}`] })),
      );
    });
    child.once('exit', (code) => {
      if (!this.#stopped) this.#o.log.error({ chip, line, code, stderr: stderr.trim() }, 'gpiomon exited; GPIO triggers stopped');
    });
    createInterface({ input: child.stdout! }).on('line', (text) => this.#onLine(text, fire));
  }

  #onLine(text: string, fire: (event: TriggerEvent) => void): void {
    const m = /^([01]) (\d+) (\d+)$/.exec(text.trim());
    if (!m) return;
    const ns = Number(m[2]) * 1e9 + Number(m[3]);
    if (ns - this.#lastEdgeNs < this.#o.debounceMs * 1e6) return;
    this.#lastEdgeNs = ns;
    fire({ origin: `gpio:${this.#o.chip}:${this.#o.line}:${m[1] === '1' ? 'rising' : 'falling'}` });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const c = this.#child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  }
}
