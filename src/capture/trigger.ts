// The seam for "a part is here now". External triggers (MQTT, HTTP, GPIO) report an event
// with an optional part id; the station turns each event into exactly one verdict.

export interface TriggerEvent {
  partId?: string;
  /** Where it came from, for logs: topic, route, gpio line. */
  origin: string;
}

export interface Trigger {
  readonly kind: string;
  /** Begins delivering events to `fire`; throws a LinesightError on bad configuration. */
  start(fire: (event: TriggerEvent) => void): Promise<void>;
  stop(): Promise<void>;
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

/** An MQTT trigger payload: a bare part id, or JSON {"partId": "..."}; empty means no id. */
export function parseTriggerPayload(payload: Buffer): { partId?: string; problem?: string } {
  const text = payload.toString('utf8').trim();
  if (!text) return {};
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return { problem: 'payload starts with { but is not valid JSON' };
    }
    return parsePartId((obj as { partId?: unknown }).partId);
  }
  return parsePartId(text);
}
