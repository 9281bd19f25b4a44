// Readiness: each part reports whether it can serve; /readyz is ready when all can.
// Shared by inference (model warmed up) and api (reads it), so neither imports the other.

export interface ReadinessCheck {
  ready: boolean;
  detail: string;
}

export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #onFlip: ((name: string, ready: boolean, detail: string) => void) | undefined;

  /** `onFlip`: called when a known check turns ready or not ready (not for detail-only changes, nor for a check's first value). */
  constructor(onFlip?: (name: string, ready: boolean, detail: string) => void) {
    this.#onFlip = onFlip;
  }

  set(name: string, ready: boolean, detail: string): void {
    const before = this.#checks.get(name);
    this.#checks.set(name, { ready, detail });
    if (before && before.ready !== ready) this.#onFlip?.(name, ready, detail);
  }

  delete(name: string): void {
    this.#checks.delete(name);
  }

  get ready(): boolean {
    return this.#checks.size > 0 && [...this.#checks.values()].every((c) => c.ready);
  }

  report(): { ready: boolean; checks: Record<string, ReadinessCheck> } {
    return { ready: this.ready, checks: Object.fromEntries(this.#checks) };
  }
}
