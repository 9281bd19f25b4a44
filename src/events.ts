// In-process event bus (zigbee2mqtt's shape): each listener is isolated, so one failing
// sink (a metric, a publisher) never stops the others or the pipeline that emitted.
import type { Verdict } from './verdict.js';
import type { Logger } from './log.js';

/** Why a frame was not inspected: shed under overload, too old, undecodable, a newer frame won, over the free-run rate. */
export type DropReason = 'overload' | 'stale' | 'decode' | 'superseded' | 'skipped' | 'too-large';

export interface LinesightEvents {
  verdict: Verdict;
  'frame-dropped': { line: string; camera: string; reason: DropReason };
  'late-result': { line: string; camera: string; partId: string; totalMs: number; status: string };
  'model-refused': { camera: string; model: string; error: { code: string; message: string } };
  'publish-failed': { sink: string; error: string };
  /** A station now serves another model version (`reason`: requested, new version, rollback). */
  'model-changed': { camera: string; from: string | null; to: string; reason: string };
  /** A station's camera started, or failed to start / stopped giving frames. */
  'camera-state': { camera: string; running: boolean; detail: string };
  /**
   * A part of the box that parts depend on went down or came back: a station's trigger input
   * (`trigger`), its local MQTT connection (`local-mqtt`). Changes only. `camera` null: the whole line.
   */
  'health-changed': { camera: string | null; component: string; ok: boolean; detail: string };
  shadow: ShadowEvent;
}

/**
 * A shadow trial's news: started, agreement (every few parts), ready (meets the policy, waiting
 * for a person), promoted, stopped, rolled-back (the promoted version was rolled back).
 */
export interface ShadowEvent {
  camera: string;
  kind: 'started' | 'agreement' | 'ready' | 'promoted' | 'stopped' | 'rolled-back';
  candidate: string;
  active: string;
  parts: number | null;
  agreement: number | null;
  detail?: string;
}

type Listener<T> = (payload: T) => void;

export class EventBus {
  readonly #listeners = new Map<keyof LinesightEvents, Set<Listener<never>>>();
  readonly #log: Logger;
  #failures = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  on<K extends keyof LinesightEvents>(event: K, fn: Listener<LinesightEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  emit<K extends keyof LinesightEvents>(event: K, payload: LinesightEvents[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of set) {
      try {
        (fn as Listener<LinesightEvents[K]>)(payload);
      } catch (err) {
        this.#failures++;
        this.#log.error({ err, event }, 'event listener failed');
      }
    }
  }

  get listenerFailures(): number {
    return this.#failures;
  }
}
