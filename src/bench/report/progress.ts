// Progress while the bench runs: a bar redrawn in place on a terminal, one line per step
// otherwise (CI logs), so a long run is never silent.
export class Progress {
  readonly #write: (s: string) => void;
  readonly #tty: boolean;
  #total: number;
  #done = 0;

  constructor(total: number, out: { write: (s: string) => unknown; isTTY?: boolean }) {
    this.#write = (s) => void out.write(s);
    this.#tty = out.isTTY === true;
    this.#total = Math.max(1, total);
  }

  /** More steps than planned (a model whose sweep turned out larger). */
  grow(by: number): void {
    this.#total += by;
  }

  step(label: string): void {
    this.#done = Math.min(this.#total, this.#done + 1);
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total}`;
    if (this.#tty) this.#write(`\r\x1b[2K${bar} ${label.slice(0, 80)}`);
    else this.#write(`${bar} ${label}\n`);
  }

  done(): void {
    if (this.#tty) this.#write('\r\x1b[2K');
  }
}
