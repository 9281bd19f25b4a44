// The embedded broker's access rules. Verdicts and status drive reject gates, so only Linesight
// itself may publish under the topic prefix; the one exception is each camera's trigger topic,
// for users with the trigger role. Linesight's own clients log in as a service identity whose
// password is made fresh at every start and lives only in this process.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { readUsersFile } from '../config/mqtt-users.js';
import { compileUsers, filterCovers, SERVICE_USERNAME, type BrokerUser } from './broker-users.js';
import { topics } from './topics.js';
import { verifyPassword } from './password-hash.js';

export type AnonymousAccess = 'off' | 'reader' | 'trigger';

export type Identity =
  | { kind: 'service'; name: string }
  | { kind: 'anonymous'; name: string; role: 'reader' | 'trigger' }
  | { kind: 'user'; name: string; user: BrokerUser };

export interface BrokerAccessOptions {
  users: ReadonlyMap<string, BrokerUser>;
  anonymous: AnonymousAccess;
  topicPrefix: string;
  /** Trigger topic -> camera, for every station with an MQTT trigger. */
  triggerTopics: ReadonlyMap<string, string>;
}

const digest = (b: Buffer | string) => createHash('sha256').update(b).digest();

export class BrokerAccess {
  readonly serviceUsername = SERVICE_USERNAME;
  /** Random per process start: never in a file, a log or the config. */
  readonly servicePassword = randomBytes(24).toString('base64url');
  readonly #o: BrokerAccessOptions;
  readonly #serviceDigest: Buffer;
  /** Last good password per user (as a digest), so a reconnecting client costs no second scrypt. */
  readonly #verified = new Map<string, Buffer>();
  readonly #dummy: BrokerUser['hash'];

  constructor(options: BrokerAccessOptions) {
    this.#o = options;
    this.#serviceDigest = digest(this.servicePassword);
    // Unknown names cost the same scrypt as known ones, so timing does not reveal which exist.
    this.#dummy = [...options.users.values()][0]?.hash ?? { N: 16384, r: 8, p: 1, salt: Buffer.alloc(16), key: Buffer.alloc(32) };
  }

  get anonymous(): AnonymousAccess {
    return this.#o.anonymous;
  }

  /** The identity of a CONNECT, or why it is refused. */
  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<Identity | { refused: string }> {
    if (username === undefined || username === '') {
      if (this.#o.anonymous === 'off') return { refused: 'anonymous access is off' };
      return { kind: 'anonymous', name: '(anonymous)', role: this.#o.anonymous };
    }
    const given = password ?? Buffer.alloc(0);
    if (username === SERVICE_USERNAME) {
      return timingSafeEqual(digest(given), this.#serviceDigest) ? { kind: 'service', name: username } : { refused: 'wrong password' };
    }
    const user = this.#o.users.get(username);
    const d = digest(given);
    const known = this.#verified.get(username);
    if (user && known && timingSafeEqual(known, d)) return { kind: 'user', name: username, user };
    const ok = await verifyPassword(given, user?.hash ?? this.#dummy);
    if (!user || !ok) return { refused: user ? 'wrong password' : 'unknown user' };
    this.#verified.set(username, d);
    return { kind: 'user', name: username, user };
  }

  /** Undefined when allowed, else why not. */
  publishRefusal(id: Identity, topic: string): string | undefined {
    if (id.kind === 'service') return undefined;
    const camera = this.#o.triggerTopics.get(topic);
    if (camera !== undefined) {
      const role = id.kind === 'user' ? id.user.role : id.role;
      if (role !== 'trigger') return `publish triggers (${topic}): needs the trigger role`;
      const cameras = id.kind === 'user' ? id.user.cameras : undefined;
      if (cameras && !cameras.includes(camera)) return `publish triggers for camera ${camera}`;
      return undefined;
    }
    const prefix = this.#o.topicPrefix;
    if (topic === prefix || topic.startsWith(`${prefix}/`)) return `publish on ${topic}: only Linesight publishes under ${prefix} (besides trigger topics)`;
    if (topic.startsWith('$')) return `publish on ${topic}: $ topics are reserved`;
    const extra = id.kind === 'user' ? id.user.publish : [];
    if (extra.some((f) => filterCovers(f, topic))) return undefined;
    return `publish on ${topic}`;
  }

  subscribeRefusal(id: Identity, filter: string): string | undefined {
    if (id.kind === 'service') return undefined;
    const allowed = id.kind === 'user' ? id.user.subscribe : ['#'];
    return allowed.some((f) => filterCovers(f, filter)) ? undefined : `subscribe to ${filter}`;
  }
}

/** The access rules for `config`: users from the config, the users file and LINESIGHT_MQTT_USERS (already in config). */
export function brokerAccessFromConfig(config: Config): BrokerAccess {
  const e = config.mqtt.embedded;
  const lists = [{ origin: 'mqtt.embedded.users', users: e.users }];
  if (e.usersFile) lists.push({ origin: e.usersFile, users: readUsersFile(e.usersFile) });
  const users = compileUsers(lists);
  const triggerTopics = new Map<string, string>();
  for (const s of config.stations) {
    if (s.trigger.type === 'mqtt') triggerTopics.set(s.trigger.topic ?? topics.trigger(config.mqtt.topicPrefix, config.line, s.id), s.id);
  }
  return new BrokerAccess({ users, anonymous: e.anonymous ?? (users.size ? 'off' : 'trigger'), topicPrefix: config.mqtt.topicPrefix, triggerTopics });
}
