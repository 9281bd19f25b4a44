// Verdicts, counters and health for PLCs and SCADA over OPC UA (issue 13): one more Publisher.
// publish() only sets values in the address space (microseconds, no I/O); node-opcua's publish
// engine sends the changes to each subscription on its own publishing interval, so a slow or
// stalled client costs its own queues, which are bounded, and never the pipeline.
import { hostname as osHostname } from 'node:os';
import { OPCUAServer, RegisterServerMethod } from 'node-opcua-server';
import type { ISessionContext, UADataType, UAMethod } from 'node-opcua-address-space';
import { StatusCodes, type StatusCode } from 'node-opcua-status-code';
import { DataType, type Variant } from 'node-opcua-variant';
import type { Clock } from '../clock.js';
import type { OpcUaConfig } from '../config/schema.js';
import { LinesightError, describeError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { Verdict } from '../verdict.js';
import { LineNodes, StationNodes, userOf, type StationCounters } from './opcua-address-space.js';
import { definePartSnapshotType, loadPartSnapshotType } from './opcua-part-snapshot.js';
import { conditionMethodRights, StationCondition } from './opcua-station-condition.js';
import { openCertificateStore, securityModes, securityPolicies, type CountingCertificateManager } from './opcua-security.js';
import { compileOpcUaUsers, OpcUaUsers } from './opcua-users.js';
import type { Publisher, PublisherHealth } from './publisher.js';
import { StationAlarm } from './station-alarm.js';

export interface StationView {
  cameraState: string;
  cameraRunning: boolean;
  model: { name: string; version: string } | null;
}

export interface OpcUaPublisherOptions {
  config: OpcUaConfig & { pkiDirectory: string };
  line: string;
  stations: readonly string[];
  /** Camera and model of a station as they are now (for the first values and model changes). */
  view: (station: string) => StationView | undefined;
  /** Inspects a part now, as POST /stations/:id/trigger does. */
  trigger: (station: string, partId: string | undefined) => { partId: string; seq: number };
  bus: EventBus;
  clock: Clock;
  log: Logger;
  version: string;
}

export interface OpcUaStats {
  sessions: number;
  subscriptions: number;
  /** Client certificates refused (untrusted, expired, revoked). */
  refusedCertificates: number;
  /** Logins refused: wrong password, unknown user, anonymous while off. */
  refusedLogins: number;
  /** Method calls refused for want of the right. */
  refusedCalls: number;
  published: number;
}

interface StationEntry {
  nodes: StationNodes;
  alarm: StationAlarm;
  condition: StationCondition;
  counters: StationCounters;
  cameraRunning: boolean;
  hasModel: boolean;
}

export class OpcUaPublisher implements Publisher {
  readonly name = 'opcua';
  readonly #o: OpcUaPublisherOptions;
  readonly #users: OpcUaUsers;
  readonly #stations = new Map<string, StationEntry>();
  /** Node id of each station's alarm condition, to its station. */
  readonly #conditions = new Map<string, string>();
  readonly #offs: Array<() => void> = [];
  #server: OPCUAServer | undefined;
  #certs: CountingCertificateManager | undefined;
  #line: LineNodes | undefined;
  #snapshotType: UADataType | undefined;
  #published = 0;
  #failed = 0;
  #refusedCalls = 0;
  #lastError: string | null = null;
  #endpointUrl = '';
  #stopped = false;

  constructor(options: OpcUaPublisherOptions) {
    this.#o = options;
    // Checked here, not in start(): a bad hash stops start-up before anything listens.
    this.#users = new OpcUaUsers(compileOpcUaUsers(options.config.users));
  }

  get endpointUrl(): string {
    return this.#endpointUrl;
  }

  /** The server's certificate store (own/, trusted/certs, rejected/). */
  get pkiDirectory(): string {
    return this.#o.config.pkiDirectory;
  }

  async start(): Promise<void> {
    const { config: c, log } = this.#o;
    this.#certs = await openCertificateStore(c.pkiDirectory);
    const users = this.#users;
    const server = new OPCUAServer({
      host: c.host,
      port: c.port,
      // The name in the endpoint URLs clients are sent to: the listen address when it is one
      // address (a loopback server must not send clients to a host name that resolves elsewhere).
      hostname: c.hostname ?? (c.host === '0.0.0.0' || c.host === '::' ? osHostname() : c.host),
      serverCertificateManager: this.#certs,
      securityPolicies: securityPolicies(c),
      securityModes: securityModes(c),
      allowAnonymous: c.anonymous,
      maxConnectionsPerEndpoint: c.maxConnections,
      serverCapabilities: {
        maxSessions: c.maxSessions,
        maxSubscriptionsPerSession: c.maxSubscriptionsPerSession,
        maxMonitoredItemsPerSubscription: c.maxMonitoredItemsPerSubscription,
        maxSubscriptions: c.maxSessions * c.maxSubscriptionsPerSession,
        maxMonitoredItems: c.maxSessions * c.maxSubscriptionsPerSession * c.maxMonitoredItemsPerSubscription,
        // 0: a variable that changes is reported at every change, not folded to one value per
        // sampling window: a PLC must see every part, and parts come at most a few hundred a
        // second. What a client may queue per item between two publishes is bounded below.
        minSupportedSampleRate: 0,
        maxMonitoredItemsQueueSize: c.maxQueueSize,
      },
      userManager: {
        // node-opcua's form: (username, password, callback), `this` the session.
        isValidUserAsync: (username: string, password: string, callback: (err: Error | null, ok?: boolean) => void) => {
          users.verify(username, password).then((ok) => callback(null, ok), (err: Error) => callback(err));
        },
      },
      serverInfo: { applicationUri: `urn:linesight:${this.#o.line}`, productUri: 'urn:linesight', applicationName: { text: `Linesight ${this.#o.line}` } },
      buildInfo: { productName: 'Linesight', productUri: 'urn:linesight', manufacturerName: 'Linesight', softwareVersion: this.#o.version },
      // No discovery server on a line PC: registering would only log retries.
      registerServerMethod: RegisterServerMethod.HIDDEN,
    });
    try {
      await server.initialize();
      this.#build(server);
      await loadPartSnapshotType(server.engine.addressSpace!, this.#snapshotType!);
      await server.start();
    } catch (err) {
      await server.shutdown(0).catch(() => undefined);
      throw new LinesightError('LS_ERR_OPCUA_LISTEN', (err as Error).message, { args: [`${c.host}:${c.port}`], cause: err });
    }
    this.#server = server;
    this.#endpointUrl = server.getEndpointUrl();
    this.#offs.push(this.#o.bus.on('camera-state', (e) => this.#camera(e.camera, e.running, e.running ? 'running' : `stopped: ${e.detail}`)));
    this.#offs.push(this.#o.bus.on('model-changed', (e) => this.#model(e.camera)));
    log.info({ endpoint: this.#endpointUrl, pki: c.pkiDirectory, policies: c.securityPolicies, modes: c.securityModes, insecure: c.allowInsecure }, 'OPC UA server listening');
  }

  #build(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace!;
    // ConditionRefresh, and Acknowledge called through AcknowledgeableConditionType's method id (how generic alarm clients call it).
    addressSpace.installAlarmsAndConditionsService();
    addressSpace.addMethodCallInterceptor((context, object, method) => this.#conditionCall(context, object, method));
    const ns = addressSpace.getOwnNamespace();
    const { line } = this.#o;
    this.#line = new LineNodes(addressSpace, ns, line);
    this.#snapshotType = definePartSnapshotType(ns);
    const at = new Date(this.#o.clock.wallNow());
    for (const id of this.#o.stations) {
      const nodes = new StationNodes(ns, this.#line.folder, line, id, {
        acknowledgeAlarm: async (_input, user) => this.#acknowledge(id, user),
        triggerPart: async (input, user) => this.#trigger(id, input, user),
      }, this.#snapshotType);
      const condition = new StationCondition(ns, nodes.folder, nodes.variable('AlarmActive'), line, id, () => this.#acknowledged(id));
      this.#conditions.set(condition.node.nodeId.toString(), id);
      const entry: StationEntry = {
        nodes,
        alarm: new StationAlarm(),
        condition,
        counters: { counts: { pass: 0, fail: 0, uncertain: 0, timeout: 0, error: 0 }, budgetMisses: 0 },
        cameraRunning: false,
        hasModel: false,
      };
      this.#stations.set(id, entry);
      this.#showAlarm(entry, at);
      const view = this.#o.view(id);
      nodes.camera(view?.cameraState ?? 'not started', view?.cameraRunning ?? false, at);
      entry.cameraRunning = view?.cameraRunning ?? false;
      this.#model(id);
    }
    this.#lineState();
  }

  publish(verdict: Verdict): void {
    const entry = this.#stations.get(verdict.camera);
    if (!entry || this.#stopped) return;
    try {
      entry.counters.counts[verdict.verdict]++;
      if (!verdict.deadlineMet) entry.counters.budgetMisses++;
      entry.nodes.verdict(verdict, entry.counters);
      if (entry.alarm.verdict(verdict)) {
        this.#showAlarm(entry, new Date(verdict.decidedAt));
        this.#lineState();
      }
      this.#published++;
    } catch (err) {
      // A value that does not fit its node is a bug here, not the pipeline's problem.
      this.#failed++;
      this.#lastError = describeError(err).message;
      this.#o.bus.emit('publish-failed', { sink: this.name, error: this.#lastError });
    }
  }

  #camera(id: string, running: boolean, state: string): void {
    const entry = this.#stations.get(id);
    if (!entry) return;
    const at = new Date(this.#o.clock.wallNow());
    entry.cameraRunning = running;
    entry.nodes.camera(state, running, at);
    if (entry.alarm.camera(running, state)) this.#showAlarm(entry, at);
    this.#lineState();
  }

  #model(id: string): void {
    const entry = this.#stations.get(id);
    if (!entry) return;
    const m = this.#o.view(id)?.model ?? null;
    entry.hasModel = m !== null;
    entry.nodes.model(m ? 'serving' : 'none', m ? `${m.name}@${m.version}` : '', new Date(this.#o.clock.wallNow()));
    this.#lineState();
  }

  #lineState(): void {
    if (!this.#line) return;
    const entries = [...this.#stations.values()];
    const ok = entries.every((e) => e.cameraRunning && e.hasModel && (!e.alarm.state.active || e.alarm.state.acknowledged));
    this.#line.set(this.#stopped ? 'stopping' : ok ? 'running' : 'degraded', new Date(this.#o.clock.wallNow()));
  }

  /** The station's AcknowledgeAlarm() method: the condition's Acknowledge without an EventId to find first (a PLC's one call). */
  async #acknowledge(id: string, user: string | null) {
    if (!this.#users.may(user, 'acknowledge')) return this.#forbidden(user, `acknowledge the alarm of ${id}`);
    this.#stations.get(id)!.condition.acknowledge(`AcknowledgeAlarm by ${user}`);
    this.#o.log.info({ station: id, user, method: 'AcknowledgeAlarm' }, 'OPC UA: alarm method called');
    return { status: StatusCodes.Good };
  }

  /** After any successful acknowledgement of the condition: StationAlarm decides whether the alarm clears. */
  #acknowledged(id: string): void {
    const entry = this.#stations.get(id)!;
    if (entry.alarm.acknowledge()) {
      this.#showAlarm(entry, new Date(this.#o.clock.wallNow()));
      this.#lineState();
    }
  }

  #showAlarm(entry: StationEntry, at: Date): void {
    entry.nodes.alarm(entry.alarm.state, at);
    entry.condition.show(entry.alarm.state, at);
  }

  /**
   * Every method call passes here, whichever node id it names (the condition's own Acknowledge or
   * the type's, as generic alarm clients call it): a method on a station's alarm needs its right.
   */
  #conditionCall(context: ISessionContext, object: { nodeId: { toString(): string } } | null, method: UAMethod): StatusCode {
    const station = object ? this.#conditions.get(object.nodeId.toString()) : undefined;
    if (station === undefined) return StatusCodes.Good;
    const name = method.browseName.name ?? '';
    const right = conditionMethodRights[name];
    const user = userOf(context);
    if (right && this.#users.may(user, right)) {
      this.#o.log.info({ station, user, method: name }, 'OPC UA: alarm method called');
      return StatusCodes.Good;
    }
    this.#forbidden(user, `${name} on the alarm of ${station}`);
    return StatusCodes.BadUserAccessDenied;
  }

  async #trigger(id: string, input: Variant[], user: string | null) {
    if (!this.#users.may(user, 'trigger')) return this.#forbidden(user, `trigger a part at ${id}`);
    const given = input[0]?.value;
    const partId = typeof given === 'string' && given.length > 0 ? given : undefined;
    if (partId !== undefined && partId.length > 256) return { status: StatusCodes.BadInvalidArgument };
    try {
      const r = this.#o.trigger(id, partId);
      return { status: StatusCodes.Good, output: [{ dataType: DataType.String, value: r.partId }, { dataType: DataType.UInt32, value: r.seq >>> 0 }] };
    } catch (err) {
      this.#o.log.warn({ station: id, user, err: describeError(err) }, 'OPC UA: trigger refused');
      return { status: StatusCodes.BadInvalidState };
    }
  }

  /** node-opcua counts every refused activation as a security rejection; those not for a password were anonymous (or a bad token). */
  #anonymousRefused(): number {
    const summary = this.#server?.engine.serverDiagnosticsSummary as { securityRejectedSessionCount?: number } | undefined;
    return Math.max(0, (summary?.securityRejectedSessionCount ?? 0) - this.#users.refused);
  }

  #forbidden(user: string | null, what: string) {
    this.#refusedCalls++;
    this.#o.log.warn({ user, what }, 'OPC UA: method call refused (no such right)');
    return { status: StatusCodes.BadUserAccessDenied };
  }

  stats(): OpcUaStats {
    const server = this.#server;
    return {
      sessions: server?.currentSessionCount ?? 0,
      subscriptions: server?.currentSubscriptionCount ?? 0,
      refusedCertificates: this.#certs?.refused ?? 0,
      // Activations refused for their identity: wrong passwords and unknown users (counted here),
      // anonymous tokens while anonymous is off (counted by node-opcua as security rejections).
      refusedLogins: this.#users.refused + this.#anonymousRefused(),
      refusedCalls: this.#refusedCalls,
      published: this.#published,
    };
  }

  health(): PublisherHealth {
    return { connected: this.#server !== undefined && !this.#stopped, pending: 0, published: this.#published, failed: this.#failed, lastError: this.#lastError };
  }

  async stop(_drainMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const off of this.#offs.splice(0)) off();
    this.#lineState();
    const server = this.#server;
    this.#server = undefined;
    // Clients get the closing state first, then the sockets close; no shutdown delay (that only
    // tells discovery servers, which a line PC does not register with).
    await server?.shutdown(0);
    await this.#certs?.dispose();
  }
}
