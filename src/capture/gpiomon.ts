// The two gpiomon command lines. libgpiod v1 (Debian 12, Ubuntu 22.04) and v2 (Debian 13 and
// later) ship a `gpiomon` with the same name and a different interface:
//
//   v1: gpiomon --line-buffered --format='%e %s %n' --rising-edge gpiochip0 17
//       prints "1 1234 5678" (edge 1 rising / 0 falling, seconds, nanoseconds unpadded)
//   v2: gpiomon --chip gpiochip0 --edges rising --format '%e %S' 17
//       prints "1 1234.000005678" (edge 1 rising / 2 falling, seconds.nanoseconds);
//       v2 flushes after every batch of events, and has no --line-buffered.
//
// Short options are used for v2 because its long names changed during 2.0 development (-e was
// --edge before --edges); the short ones did not.
import { execFile } from 'node:child_process';
import { LinesightError } from '../errors.js';

export interface GpiomonVersion {
  major: number;
  minor: number;
  /** As gpiomon printed it, e.g. "v2.1.3", for logs and health. */
  text: string;
}

export interface GpioLine {
  chip: string;
  line: number;
  edge: 'rising' | 'falling' | 'both';
}

export interface GpioEdge {
  edge: 'rising' | 'falling';
  /** Kernel timestamp of the edge, milliseconds (only differences mean anything). */
  ms: number;
}

/** Reads "gpiomon (libgpiod) v1.6.3" (the first line of `gpiomon --version`). */
export function parseGpiomonVersion(output: string): GpiomonVersion | undefined {
  const m = /\(libgpiod\)\s+v?(\d+)\.(\d+)(\S*)/.exec(output);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), text: `v${m[1]}.${m[2]}${m[3]}` };
}

/** Asks `program` its version; a LinesightError when it cannot run or is not libgpiod's. */
export async function detectGpiomon(program: string, what: string): Promise<GpiomonVersion> {
  const output = await new Promise<string>((resolve, reject) => {
    execFile(program, ['--version'], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new LinesightError('LS_ERR_TRIGGER', `cannot run ${program} (apt-get install gpiod): ${err.message}`, { args: [what] }));
      } else resolve(`${stdout}\n${stderr}`);
    });
  });
  const v = parseGpiomonVersion(output);
  if (!v) throw new LinesightError('LS_ERR_TRIGGER', `${program} --version does not say which libgpiod it is: ${JSON.stringify(output.trim().slice(0, 120))}`, { args: [what] });
  // --line-buffered came with v1.3: without it, edges would sit in gpiomon's stdout buffer.
  if (v.major < 1 || (v.major === 1 && v.minor < 3)) throw new LinesightError('LS_ERR_TRIGGER', `gpiomon ${v.text} is too old; libgpiod 1.3 or later is needed`, { args: [what] });
  return v;
}

export function gpiomonArgs(v: GpiomonVersion, g: GpioLine): string[] {
  if (v.major === 1) {
    const edge = g.edge === 'rising' ? ['--rising-edge'] : g.edge === 'falling' ? ['--falling-edge'] : [];
    return ['--line-buffered', '--format=%e %s %n', ...edge, g.chip.replace(/^\/dev\//, ''), String(g.line)];
  }
  return ['-c', g.chip, '-e', g.edge, '-F', '%e %S', String(g.line)];
}

const V1_LINE = /^([01]) (\d+) (\d+)$/;
const V2_LINE = /^([12]) (\d+)\.(\d{9})$/;

/** One line of gpiomon output in the format gpiomonArgs asked for; undefined for anything else. */
export function parseGpiomonLine(v: GpiomonVersion, text: string): GpioEdge | undefined {
  const m = (v.major === 1 ? V1_LINE : V2_LINE).exec(text.trim());
  if (!m) return undefined;
  // "1" is rising in both; falling is "0" in v1 and "2" in v2, which the patterns allow.
  const rising = m[1] === '1';
  // Milliseconds as a double stay exact to well under a microsecond, even for realtime stamps.
  return { edge: rising ? 'rising' : 'falling', ms: Number(m[2]) * 1000 + Number(m[3]) / 1e6 };
}
