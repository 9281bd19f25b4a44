// Collects what a callback receives and lets a test await a condition on it, instead of sleeping.

export interface Recorder<T> {
  items: T[];
  push: (item: T) => void;
  /** Resolves as soon as `ok()` holds (checked now and after each push); rejects after `ms`. */
  until: (ok: () => boolean, what: string, ms?: number) => Promise<void>;
}

export function recorder<T>(): Recorder<T> {
  const items: T[] = [];
  let waiters: Array<{ ok: () => boolean; resolve: () => void }> = [];
  return {
    items,
    push(item) {
      items.push(item);
      const due = waiters.filter((w) => w.ok());
      waiters = waiters.filter((w) => !due.includes(w));
      for (const w of due) w.resolve();
    },
    until(ok, what, ms = 20_000) {
      return new Promise((resolve, reject) => {
        if (ok()) return resolve();
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (have ${items.length})`)), ms);
        waiters.push({ ok, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}
