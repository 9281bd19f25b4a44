// The seam for "a part is here now". External triggers (MQTT, HTTP, GPIO) report an event
// with an optional part id; the station turns each event into exactly one verdict.

export interface TriggerEvent {
  partId?: string;
  /** Where it came from, for logs: topic, route, gpio line. */
  origin: string;
  /**
   * When the sender says the part was there (epoch ms), if it said. A trigger held by the broker
   * through an outage arrives late but is still a part; this is how late.
   */
  sentWall?: number;
}

/** Whether triggers can reach the station now; `detail` says why not (or what is watched). */
export interface TriggerHealth {
  ok: boolean;
  detail: string;
}

export type TriggerHealthListener = (health: TriggerHealth) => void;

export interface Trigger {
  readonly kind: string;
  /** Begins delivering events to `fire`; throws a LinesightError on bad configuration. */
  start(fire: (event: TriggerEvent) => void): Promise<void>;
  stop(): Promise<void>;
  /** Current health; triggers without one are always able to deliver. */
  health?(): TriggerHealth;
  /** Counters since start, for metrics. */
  stats?(): TriggerStats;
}

export interface TriggerStats {
  /** Parts announced to the station. */
  fired: number;
  /** Messages recognised as repeats of a part already announced (MQTT resends), not fired again. */
  repeats: number;
  /** Times the trigger input was restarted after it failed (gpiomon). */
  restarts: number;
  /** Messages whose payload could not be (fully) read, by PayloadProblem; each was still a part. */
  rejectedPayloads?: Partial<Record<PayloadProblem, number>>;
}

/** A trigger's health, told to its listener only when it changes (readiness wiring). */
export class HealthState {
  #health: TriggerHealth;
  readonly #listener: TriggerHealthListener | undefined;

  constructor(initial: TriggerHealth, listener?: TriggerHealthListener) {
    this.#health = initial;
    this.#listener = listener;
  }

  get(): TriggerHealth {
    return { ...this.#health };
  }

  set(ok: boolean, detail: string): void {
    if (this.#health.ok === ok && this.#health.detail === detail) return;
    this.#health = { ok, detail };
    this.#listener?.({ ok, detail });
  }
}

const PART_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * A part id from an external message: printable ASCII without spaces, at most 128 characters.
 * Returns undefined (no id) for anything else; the caller logs why.
 */
export function parsePartId(raw: unknown): { partId?: string; problem?: string } {
  if (raw === undefined || raw === null || raw === '') return {};
  const s = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof s !== 'string') return { problem: `partId must be a string, got ${typeof raw}` };
  if (!PART_ID.test(s)) return { problem: `partId must be 1-128 printable characters without spaces, got ${JSON.stringify(s.slice(0, 40))}` };
  return { partId: s };
}

/** When a sender stamped a trigger: epoch milliseconds or an ISO 8601 date-time. */
export function parseSentAt(raw: unknown): { sentWall?: number; problem?: string } {
  if (raw === undefined || raw === null) return {};
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{4}-\d\d-\d\dT/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) return { problem: `sentAt must be epoch milliseconds or an ISO 8601 date-time, got ${JSON.stringify(raw).slice(0, 40)}` };
  return { sentWall: ms };
}

/** Larger trigger payloads are not parsed: a part id and a timestamp fit in far less. */
export const MAX_TRIGGER_PAYLOAD_BYTES = 4096;

/** Why a trigger payload gave no (or only part of its) information; a metric label. */
export type PayloadProblem = 'too-large' | 'not-utf8' | 'bad-json' | 'bad-part-id' | 'bad-sent-at';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * An MQTT trigger payload: a bare part id, or JSON {"partId": "...", "sentAt": ...}; empty means
 * no id. A payload over MAX_TRIGGER_PAYLOAD_BYTES, or not UTF-8, is not read at all; `reason`
 * names the first problem for metrics, `problem` says it for people. A bad sentAt is reported
 * but never costs the part its id.
 */
export function parseTriggerPayload(payload: Buffer): { partId?: string; sentWall?: number; problem?: string; reason?: PayloadProblem } {
  if (payload.length > MAX_TRIGGER_PAYLOAD_BYTES) {
    return { problem: `payload of ${payload.length} bytes is over the ${MAX_TRIGGER_PAYLOAD_BYTES} byte limit; not read`, reason: 'too-large' };
  }
  let decoded: string;
  try {
    decoded = utf8.decode(payload);
  } catch {
    return { problem: 'payload is not UTF-8 text; not read', reason: 'not-utf8' };
  }
  const text = decoded.trim();
  if (!text) return {};
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return { problem: 'payload starts with { but is not valid JSON', reason: 'bad-json' };
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return { problem: 'payload JSON is not an object', reason: 'bad-json' };
    const { partId: rawId, sentAt } = obj as { partId?: unknown; sentAt?: unknown };
    const id = parsePartId(rawId);
    const sent = parseSentAt(sentAt);
    const problem = [id.problem, sent.problem].filter(Boolean).join('; ');
    const reason: PayloadProblem | undefined = id.problem ? 'bad-part-id' : sent.problem ? 'bad-sent-at' : undefined;
    return { ...(id.partId ? { partId: id.partId } : {}), ...(sent.sentWall ? { sentWall: sent.sentWall } : {}), ...(problem ? { problem, reason } : {}) };
  }
  const id = parsePartId(text);
  return id.problem ? { problem: id.problem, reason: 'bad-part-id' } : id;
}
