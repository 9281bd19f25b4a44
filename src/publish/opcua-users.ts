// Who may log in to the OPC UA server, and what each may call. Passwords are scrypt hashes (the
// same form as the MQTT users); a wrong password or an unknown name costs the same scrypt, so the
// timing does not reveal which names exist, and each refusal is counted for /metrics.
import type { OpcUaRight, OpcUaUserConfig } from '../config/schema.js';
import { LinesightError } from '../errors.js';
import { parsePasswordHash, verifyPassword, type ParsedHash } from './password-hash.js';

export interface OpcUaUser {
  username: string;
  hash: ParsedHash;
  rights: ReadonlySet<OpcUaRight>;
}

/** Checks hashes and names once, at start; `origin` names the list in errors. */
export function compileOpcUaUsers(users: readonly OpcUaUserConfig[], origin = 'opcua.users'): Map<string, OpcUaUser> {
  const byName = new Map<string, OpcUaUser>();
  for (const [i, u] of users.entries()) {
    const where = `${origin}[${i}] (${u.username})`;
    if (byName.has(u.username)) throw new LinesightError('LS_ERR_OPCUA_USERS', `username ${u.username} is defined twice`, { args: [where] });
    let hash: ParsedHash;
    try {
      hash = parsePasswordHash(u.password);
    } catch (err) {
      throw new LinesightError('LS_ERR_OPCUA_USERS', (err as Error).message, { args: [where], cause: err });
    }
    byName.set(u.username, { username: u.username, hash, rights: new Set(u.rights) });
  }
  return byName;
}

export class OpcUaUsers {
  readonly #users: ReadonlyMap<string, OpcUaUser>;
  readonly #dummy: ParsedHash;
  #refused = 0;

  constructor(users: ReadonlyMap<string, OpcUaUser>) {
    this.#users = users;
    this.#dummy = [...users.values()][0]?.hash ?? { N: 16384, r: 8, p: 1, salt: Buffer.alloc(16), key: Buffer.alloc(32) };
  }

  async verify(username: string, password: string): Promise<boolean> {
    const user = this.#users.get(username);
    const ok = await verifyPassword(password, user?.hash ?? this.#dummy);
    if (ok && user) return true;
    this.#refused++;
    return false;
  }

  may(username: string | null, right: OpcUaRight): boolean {
    return username !== null && (this.#users.get(username)?.rights.has(right) ?? false);
  }

  /** Logins refused for a wrong password or an unknown user name. */
  get refused(): number {
    return this.#refused;
  }
}
