// Where a part's evidence image lives in object storage. Deterministic from the verdict alone, so
// the cloud message for a fail can carry the key at once, before the upload (which goes through
// the outbox and may wait hours for the WAN) has happened.
import type { Verdict } from '../verdict.js';

/** `<prefix>/<line>/<station>/<yyyy>/<mm>/<dd>/<verdict-id>.jpg`, the date of the decision in UTC. */
export function evidenceObjectKey(prefix: string, v: Pick<Verdict, 'id' | 'line' | 'camera' | 'decidedAt'>): string {
  const d = new Date(v.decidedAt);
  const yyyy = String(d.getUTCFullYear()).padStart(4, '0');
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  const head = prefix.replace(/^\/+|\/+$/g, '');
  return `${head ? `${head}/` : ''}${v.line}/${v.camera}/${yyyy}/${mm}/${dd}/${v.id}.jpg`;
}
