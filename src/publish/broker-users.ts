// Who may connect to the embedded broker, from the config, a users file or LINESIGHT_MQTT_USERS.
// Every entry is checked when read, so a typo in a users file stops start-up with its path and
// field, instead of locking a PLC out at 3 a.m.
import type { MqttUserConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import { parsePasswordHash, type ParsedHash } from './password-hash.js';

/** Linesight's own clients; no configured user may take this name. */
export const SERVICE_USERNAME = 'linesight-service';

export interface BrokerUser {
  username: string;
  hash: ParsedHash;
  role: 'reader' | 'trigger';
  cameras?: readonly string[] | undefined;
  subscribe: readonly string[];
  publish: readonly string[];
}

/** Checks hashes and names once, at start; `origin` says where each list came from. */
export function compileUsers(lists: Array<{ origin: string; users: readonly MqttUserConfig[] }>): Map<string, BrokerUser> {
  const byName = new Map<string, BrokerUser>();
  for (const { origin, users } of lists) {
    for (const [i, u] of users.entries()) {
      const where = `${origin}[${i}] (${u.username})`;
      if (u.username === SERVICE_USERNAME) throw new LinesightError('LS_ERR_MQTT_USERS', `the username ${SERVICE_USERNAME} is Linesight's own`, { args: [where] });
      if (byName.has(u.username)) throw new LinesightError('LS_ERR_MQTT_USERS', `username ${u.username} is defined twice`, { args: [where] });
      let hash: ParsedHash;
      try {
        hash = parsePasswordHash(u.password);
      } catch (err) {
        throw new LinesightError('LS_ERR_MQTT_USERS', (err as Error).message, { args: [where], cause: err });
      }
      for (const f of [...u.subscribe, ...u.publish]) {
        if (!validFilter(f)) throw new LinesightError('LS_ERR_MQTT_USERS', `${JSON.stringify(f)} is not an MQTT topic filter (+ and # only as whole levels, # last)`, { args: [where] });
      }
      byName.set(u.username, { username: u.username, hash, role: u.role, cameras: u.cameras, subscribe: u.subscribe, publish: u.publish });
    }
  }
  return byName;
}

function validFilter(f: string): boolean {
  const levels = f.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/** Whether `filter` matches every topic that `requested` (a topic or a filter) can match. */
export function filterCovers(filter: string, requested: string): boolean {
  const a = filter.split('/');
  const b = requested.split('/');
  // MQTT 4.7.2: wildcards at the first level do not match topics starting with $.
  if (requested.startsWith('$') && (a[0] === '#' || a[0] === '+')) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= b.length) return false;
    if (a[i] === '+') {
      if (b[i] === '#') return false;
      continue;
    }
    if (a[i] !== b[i]) return false;
  }
  return a.length === b.length;
}
