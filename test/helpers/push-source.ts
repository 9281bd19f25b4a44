// A FrameSource the test feeds by hand, for driving a station frame by frame.
import type { Frame } from '../../src/capture/frame.js';
import type { FrameSource, SourceHealth } from '../../src/capture/source.js';

export class PushSource implements FrameSource {
  readonly kind = 'push';
  #queue: Frame[] = [];
  #wake: (() => void) | undefined;
  #stopped = false;
  #count = 0;

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
  }

  push(frame: Frame): void {
    this.#queue.push(frame);
    this.#wake?.();
  }

  async *frames(): AsyncGenerator<Frame> {
    // Frames pushed before stop() were captured, so they are still delivered.
    for (;;) {
      const f = this.#queue.shift();
      if (f) {
        this.#count++;
        yield f;
        continue;
      }
      if (this.#stopped) return;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  health(): SourceHealth {
    return { state: this.#stopped ? 'stopped' : 'streaming', framesEmitted: this.#count, fps: 0, lastFrameAt: null, lastError: null, reconnects: 0 };
  }
}
