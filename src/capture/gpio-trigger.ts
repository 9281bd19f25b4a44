// Parts announced by an edge on a GPIO line (photo-eye wired to the box), read through the
// Linux GPIO character device with `gpiomon` (Debian package gpiod, libgpiod v1 or v2): no native
// addon, and the kernel timestamps each edge. Edges closer than the debounce interval are one part.
//
// gpiomon is supervised like a camera: when it exits (chip unplugged, line taken by another
// program, killed) it is restarted with exponential backoff and jitter, and health is red until
// it runs again. A trigger that stopped without a word would leave the line's parts uninspected
// while the box reports ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { LinesightError } from '../errors.js';
import type { Logger } from '../log.js';
import { killOnExit, stopChild } from './child-process.js';
import { detectGpiomon, gpiomonArgs, parseGpiomonLine, type GpiomonVersion } from './gpiomon.js';
import { HealthState, type Trigger, type TriggerEvent, type TriggerHealth, type TriggerHealthListener, type TriggerStats } from './trigger.js';

export interface GpioTriggerOptions {
  chip: string;
  line: number;
  edge: 'rising' | 'falling' | 'both';
  debounceMs: number;
  log: Logger;
  /** The gpiomon program; injectable for systems that install it elsewhere. */
  program?: string;
  clock?: Clock;
  /** Random in [0,1): injected so backoff is testable. */
  random?: () => number;
  /** Restart delay: `initialMs`, doubling per failed run up to `maxMs`, with jitter. */
  restart?: { initialMs?: number; maxMs?: number };
  /** gpiomon counts as running once it has lived this long, or printed its first event. */
  settleMs?: number;
  onHealthChange?: TriggerHealthListener;
}

export interface GpioTriggerStatus {
  state: 'idle' | 'starting' | 'running' | 'down' | 'stopped';
  /** libgpiod version of the gpiomon in use, e.g. "v2.1.3". */
  version: string | null;
  restarts: number;
  /** While down: how long until the next try. */
  retryInMs: number | null;
  lastError: string | null;
}

const defaults = { initialMs: 500, maxMs: 30_000, settleMs: 1000 };

function chipPath(chip: string): string {
  return chip.startsWith('/') ? chip : `/dev/${chip}`;
}

export class GpioTrigger implements Trigger {
  readonly kind = 'gpio';
  readonly #o: GpioTriggerOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #health: HealthState;
  readonly #what: string;
  #version: GpiomonVersion | undefined;
  #fire: (event: TriggerEvent) => void = () => {};
  #child: ChildProcess | undefined;
  #closed: Promise<void> | undefined;
  #retry: TimerHandle | undefined;
  #attempt = 0;
  #stopped = false;
  #lastEdgeMs = -Infinity;
  #fired = 0;
  #status: GpioTriggerStatus = { state: 'idle', version: null, restarts: 0, retryInMs: null, lastError: null };

  constructor(options: GpioTriggerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#what = `gpio ${options.chip}:${options.line}`;
    this.#health = new HealthState({ ok: false, detail: 'not started' }, options.onHealthChange);
  }

  health(): TriggerHealth {
    return this.#health.get();
  }

  status(): GpioTriggerStatus {
    return { ...this.#status };
  }

  stats(): TriggerStats {
    return { fired: this.#fired, repeats: 0, restarts: this.#status.restarts };
  }

  get #program(): string {
    return this.#o.program ?? 'gpiomon';
  }

  async start(fire: (event: TriggerEvent) => void): Promise<void> {
    const { chip } = this.#o;
    // Configuration that can never work fails start-up; trouble later is retried.
    if (!existsSync(chipPath(chip))) {
      throw new LinesightError('LS_ERR_TRIGGER', `${chipPath(chip)} does not exist (no GPIO chip on this machine?)`, { args: [this.#what] });
    }
    this.#version = await detectGpiomon(this.#program, this.#what);
    this.#status.version = this.#version.text;
    this.#fire = fire;
    await this.#run(true);
  }

  /** One gpiomon run. The first run's failure to spawn is thrown to start(); later ones are retried. */
  async #run(first: boolean): Promise<void> {
    if (this.#stopped) return;
    const { chip, line, edge, log } = this.#o;
    const version = this.#version!;
    if (!existsSync(chipPath(chip))) {
      this.#down(`${chipPath(chip)} does not exist (GPIO chip gone?)`);
      return;
    }
    this.#status = { ...this.#status, state: 'starting', retryInMs: null };
    this.#health.set(false, `starting gpiomon ${version.text} on ${chip} line ${line}`);
    const child = spawn(this.#program, gpiomonArgs(version, { chip, line, edge }), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const spawnError = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    // Later errors (a failed kill) must not go unhandled; the exit is what matters.
    child.on('error', (err) => log.warn({ err, chip, line }, 'gpiomon process error'));
    if (spawnError) {
      if (first) throw new LinesightError('LS_ERR_TRIGGER', `cannot run ${this.#program} (apt-get install gpiod): ${spawnError.message}`, { args: [this.#what] });
      this.#down(`cannot run ${this.#program}: ${spawnError.message}`);
      return;
    }
    killOnExit(child);
    if (this.#stopped) {
      // stop() came while this run was being spawned: it found no child to stop.
      child.kill('SIGTERM');
      return;
    }
    this.#child = child;

    let running = false;
    const up = () => {
      if (running || this.#stopped) return;
      running = true;
      settle.cancel();
      // A run that got going resets the backoff: the next failure is retried quickly again.
      this.#attempt = 0;
      this.#status = { ...this.#status, state: 'running', lastError: null };
      this.#health.set(true, `gpiomon ${version.text} watching ${chip} line ${line} (${edge} edges)`);
      if (this.#status.restarts > 0) log.info({ chip, line, restarts: this.#status.restarts }, 'gpiomon running again');
    };
    const settle = this.#clock.setTimer(this.#o.settleMs ?? defaults.settleMs, up);
    createInterface({ input: child.stdout! }).on('line', (text) => {
      up();
      this.#onLine(version, text);
    });
    // 'close' comes after stdout has been read to its end, so every edge printed is fired first.
    this.#closed = new Promise<void>((resolve) =>
      child.once('close', (code, signal) => {
        settle.cancel();
        if (this.#child === child) this.#child = undefined;
        resolve();
        if (this.#stopped) return;
        const said = stderr.trim().split('\n').slice(-3).join(' / ');
        this.#down(`gpiomon exited (${signal ? `signal ${signal}` : `code ${code}`})${said ? `: ${said}` : ''}`);
      }),
    );
  }

  #down(why: string): void {
    if (this.#stopped) return;
    // Full jitter: several boxes that lost a shared expander do not retry in lockstep.
    const initial = this.#o.restart?.initialMs ?? defaults.initialMs;
    const cap = Math.min(this.#o.restart?.maxMs ?? defaults.maxMs, initial * 2 ** Math.min(this.#attempt++, 20));
    const delay = Math.round(cap / 2 + (this.#random() * cap) / 2);
    this.#status = { ...this.#status, state: 'down', retryInMs: delay, lastError: why };
    this.#health.set(false, `${why}; restarting in ${delay} ms`);
    this.#o.log.error({ chip: this.#o.chip, line: this.#o.line, reason: why, retryInMs: delay }, 'gpiomon is not running: no GPIO triggers until it restarts');
    this.#retry = this.#clock.setTimer(delay, () => {
      this.#status.restarts++;
      this.#run(false).catch((err: unknown) => this.#down((err as Error).message));
    });
  }

  #onLine(version: GpiomonVersion, text: string): void {
    const e = parseGpiomonLine(version, text);
    if (!e) {
      this.#o.log.debug({ text }, 'ignored a gpiomon line');
      return;
    }
    const since = e.ms - this.#lastEdgeMs;
    // A step back (realtime stamps on old kernels, corrected by NTP) is a new edge, not a bounce.
    if (since >= 0 && since < this.#o.debounceMs) return;
    this.#lastEdgeMs = e.ms;
    try {
      this.#fired++;
      this.#fire({ origin: `gpio:${this.#o.chip}:${this.#o.line}:${e.edge}` });
    } catch (err) {
      this.#o.log.error({ err }, 'the station refused a GPIO trigger');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#retry?.cancel();
    const c = this.#child;
    if (c && this.#closed) await stopChild(c, this.#closed, { signal: 'SIGTERM', graceMs: 2000, clock: this.#clock });
    this.#status = { ...this.#status, state: 'stopped', retryInMs: null };
    this.#health.set(false, 'stopped');
  }
}
