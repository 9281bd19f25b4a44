// CPU and memory of the service process over a measured window, read from /proc (Linux: the
// edge boxes this sizes). CPU is the share of the whole box, so 1.0 means every core busy; RSS
// is the peak of samples every 100 ms, and its steady level the median of the window's second
// half (start-up and warm-up allocations behind it). Elsewhere all read 0 and the report says so.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { monotonicMs } from '../clock.js';
import { median } from './stats.js';

/** Clock ticks per second of /proc/<pid>/stat: 100 on every Linux architecture Node runs on. */
const ticksPerSec = 100;

export function procReadable(): boolean {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

function cpuTicks(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th overall.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class ResourceWindow {
  readonly #pid: number;
  readonly #cores = cpus().length;
  readonly #timer: NodeJS.Timeout;
  #ticks0: number;
  #t0 = monotonicMs();
  #rssPeak: number;
  #samples: number[] = [];

  constructor(pid: number, sampleMs = 100) {
    this.#pid = pid;
    this.#ticks0 = cpuTicks(pid);
    this.#rssPeak = rssBytes(pid);
    this.#timer = setInterval(() => this.#sample(), sampleMs);
    this.#timer.unref();
  }

  #sample(): void {
    const rss = rssBytes(this.#pid);
    this.#samples.push(rss);
    this.#rssPeak = Math.max(this.#rssPeak, rss);
  }

  /** Starts the window again (after a warm-up that should not count). */
  reset(): void {
    this.#ticks0 = cpuTicks(this.#pid);
    this.#t0 = monotonicMs();
    this.#rssPeak = rssBytes(this.#pid);
    this.#samples = [];
  }

  /** CPU share of the box (and seconds used), peak and steady RSS (MiB) since the window began; stops sampling. */
  end(): { cpu: number; cpuSeconds: number; rssMiB: number; rssSteadyMiB: number } {
    this.#sample();
    clearInterval(this.#timer);
    const cpuSec = (cpuTicks(this.#pid) - this.#ticks0) / ticksPerSec;
    const wallSec = Math.max(0.001, (monotonicMs() - this.#t0) / 1000);
    const steady = median(this.#samples.slice(this.#samples.length >> 1));
    return { cpu: Math.round((cpuSec / wallSec / this.#cores) * 100) / 100, cpuSeconds: cpuSec, rssMiB: Math.round(this.#rssPeak / 1024 / 1024), rssSteadyMiB: Math.round(steady / 1024 / 1024) };
  }
}
