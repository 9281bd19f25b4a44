// The one wiring file: builds each part from the config, starts them in data-flow order
// (api first, so /readyz can say "not yet"), and stops them in reverse. Parts do their own
// I/O in start()/stop(); nothing here knows how a part works inside.
import { systemClock, type Clock } from './clock.js';
import type { Config, StationConfig } from './config/schema.js';
import { LinesightError } from './errors.js';
import { EventBus } from './events.js';
import { Readiness } from './health.js';
import { createLogger, type Logger } from './log.js';
import { createSource } from './capture/sources.js';
import { redactText } from './redact.js';
import { GpioTrigger } from './capture/gpio-trigger.js';
import { MqttTrigger } from './capture/mqtt-trigger.js';
import type { Trigger, TriggerHealth } from './capture/trigger.js';
import { topics } from './publish/topics.js';
import { InferencePool } from './inference/pool.js';
import { ActiveModelStore } from './models/active-store.js';
import { installArchive } from './models/archive.js';
import { ModelManager } from './models/manager.js';
import { ModelWatcher } from './models/watcher.js';
import { ModelRegistry } from './models/registry.js';
import { loadPublicKey } from './models/signature.js';
import type { KeyObject } from 'node:crypto';
import { Station } from './pipeline/station.js';
import { ShadowTrials } from './shadow/trials.js';
import { CameraWatch } from './pipeline/camera-watch.js';
import { brokerAccessFromConfig } from './publish/broker-access.js';
import { EmbeddedBroker } from './publish/embedded-broker.js';
import { clientTlsOptions, type ClientTlsOptions } from './publish/mqtt-tls.js';
import { LocalMqttPublisher } from './publish/local-mqtt.js';
import { MqttCloudTransport } from './publish/cloud-mqtt.js';
import { GreengrassIpcTransport } from './publish/cloud-greengrass-ipc.js';
import { CloudPublisher } from './publish/cloud-publisher.js';
import type { CloudTransport } from './publish/cloud-transport.js';
import { CloudFeed } from './publish/cloud-feed.js';
// Types only: node-opcua and protobufjs load when their publisher is enabled (node-opcua alone
// adds about a second of start-up and a warning on stderr for a box that does not use it).
import type { OpcUaPublisher } from './publish/opcua-server.js';
import type { SparkplugPublisher } from './publish/sparkplug.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cloudTlsOptions } from './publish/cloud-tls.js';
import { SqliteOutbox } from './publish/outbox-sqlite.js';
import type { Publisher } from './publish/publisher.js';
import { ConsoleSummary } from './publish/console-summary.js';
import type { LiveClients } from './api/live-clients.js';
import { packageVersion } from './version.js';
import type { QueueReporter } from './queues.js';
import { EvidenceStore } from './evidence/store.js';
import type { EvidenceUploader } from './evidence/s3-uploader.js';
import { evidenceObjectKey } from './evidence/object-key.js';
import type { Outbox } from './publish/outbox.js';

// Stations keep their recent frames (for a part's image by sequence number) while a dashboard is
// open, and for this long after a client last asked for one without streaming.
const recentFramesWantedMs = 60_000;

export interface AppDeps {
  clock?: Clock;
  log?: Logger;
  /** Where summary lines go (stdout by default). */
  write?: (line: string) => void;
  /** Called as start() enters each stage; lets supervisors and tests observe start-up in order. */
  onStage?: (stage: StartStage) => Promise<void> | void;
  /** The outbox evidence uploads go through (the cloud outbox); without one, an in-memory outbox. */
  outbox?: Outbox;
}

export type StartStage = 'api' | 'broker' | 'models' | 'publishers' | 'stations' | 'running';

export class App {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly bus: EventBus;
  readonly readiness = new Readiness((name, ready, detail) => this.#onReadinessFlip(name, ready, detail));
  /** Checks that were ready once: their first coming up is start-up, not news. */
  readonly #everReady = new Set<string>();
  readonly pool: InferencePool;
  readonly stations: Station[] = [];
  readonly publishers: Publisher[] = [];
  /** The cloud publisher and its outbox (issue 10), when cloud.enabled; others add messages to `cloud.outbox`. */
  cloud: CloudPublisher | undefined;
  /** The OPC UA server (issue 13), when opcua.enabled. */
  opcua: OpcUaPublisher | undefined;
  /** External trigger inputs (MQTT, GPIO) by station, for metrics. */
  readonly #triggers = new Map<string, Trigger>();
  /** Owners of bounded queues, read by /metrics. */
  readonly #queueReporters: QueueReporter[] = [];
  readonly #write: ((line: string) => void) | undefined;
  readonly #onStage: AppDeps['onStage'];
  #registry: ModelRegistry | undefined;
  /** Trusted model-signing keys, read once at start. */
  #keys: KeyObject[] = [];
  #models: ModelManager | undefined;
  #shadow: ShadowTrials | undefined;
  #watcher: ModelWatcher | undefined;
  #apiUrl = '';
  #mqttUrl = '';
  /** How Linesight's own MQTT clients log in: the embedded broker's service identity, or mqtt.username/password and mqtt.tls for an external one. */
  #mqttLogin: { username?: string | undefined; password?: string | undefined; tls?: ClientTlsOptions } = {};
  #broker: EmbeddedBroker | undefined;
  #stops: Array<() => Promise<void> | void> = [];
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  #starting: Promise<void> | undefined;
  #stopRequested = false;
  #cloudFeed: CloudFeed | undefined;
  /** Evidence images (evidence.enabled), and their S3 uploads (evidence.s3). */
  #evidence: EvidenceStore | undefined;
  /** Open dashboards (live event streams); undefined while the API is off. */
  #liveClients: LiveClients | undefined;
  /** When a part's frame was last asked for by sequence number (a client that polls instead of streaming). */
  #frameAskedAt = -Infinity;
  #uploader: EvidenceUploader | undefined;
  /** The durable outbox (cloud.enabled): the cloud publisher and the evidence uploader drain it. */
  #outbox: Outbox | undefined;

  constructor(config: Config, deps: AppDeps = {}) {
    this.config = config;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? createLogger({ level: config.log.level, format: config.log.format });
    this.#write = deps.write;
    this.#onStage = deps.onStage;
    this.#outbox = deps.outbox;
    this.bus = new EventBus(this.log);
    const inf = config.inference;
    this.pool = new InferencePool({
      workers: inf.workers,
      intraOpThreads: inf.intraOpThreads,
      executionProviders: inf.executionProviders,
      graphOptimization: inf.graphOptimization,
      hungAfterBudgets: inf.hungAfterBudgets,
      controlWaitMs: inf.controlWaitMs,
      controlTimeoutMs: inf.controlTimeoutMs,
      maxImagePixels: inf.maxImagePixels,
      jpegDecoder: inf.jpegDecoder,
      freeBuffersEarly: inf.freeBuffersEarly,
      estimates: { staleMs: inf.estimateStaleMs },
      clock: this.clock,
      log: this.log.child({ component: 'pool' }),
    });
  }

  get apiUrl(): string {
    return this.#apiUrl;
  }

  get mqttUrl(): string {
    return this.#mqttUrl;
  }

  /** Model lifecycle (activate, rollback, list); available once start() has loaded the models. */
  get models(): ModelManager {
    if (!this.#models) throw new Error('models are not loaded yet');
    return this.#models;
  }

  /** Shadow trials (start, promote, stop, report); available once start() has loaded the models. */
  get shadow(): ShadowTrials {
    if (!this.#shadow) throw new LinesightError('LS_ERR_NOT_READY', undefined, { args: ['models are not loaded yet'] });
    return this.#shadow;
  }

  get evidence(): EvidenceStore | undefined {
    return this.#evidence;
  }

  get watcher(): ModelWatcher | undefined {
    return this.#watcher;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`App.start() called in state ${this.#state}`);
    this.#state = 'starting';
    this.#starting = (async () => {
      try {
        await this.#start();
        this.#state = 'running';
      } catch (err) {
        this.#state = 'running';
        await this.stop();
        throw err;
      }
    })();
    return this.#starting;
  }

  /**
   * Enters a start-up stage, unless stop() was called meanwhile: then start-up ends here and
   * stop() undoes what was started (a SIGTERM during a slow model load must not leave a service
   * that starts running after it said it stopped).
   */
  async #enter(stage: StartStage): Promise<void> {
    if (this.#stopRequested) throw new LinesightError('LS_ERR_SHUTDOWN', `stopped during start-up, before the ${stage} stage`);
    await this.#onStage?.(stage);
    if (this.#stopRequested) throw new LinesightError('LS_ERR_SHUTDOWN', `stopped during start-up, in the ${stage} stage`);
  }

  async #start(): Promise<void> {
    const { config, log } = this;
    for (const s of config.stations) this.readiness.set(`station:${s.id}`, false, `loading model ${s.model}`);

    if (config.api.enabled) await this.#startApi();
    await this.#enter('api');

    if (config.mqtt.url) {
      this.#mqttUrl = config.mqtt.url;
      this.#mqttLogin = { username: config.mqtt.username, password: config.mqtt.password, tls: clientTlsOptions(config.mqtt.tls) };
    } else {
      const e = config.mqtt.embedded;
      const broker = new EmbeddedBroker({
        host: e.host,
        port: e.port,
        access: brokerAccessFromConfig(config),
        maxPacketBytes: e.maxPacketBytes,
        maxQueuedPerClient: e.maxQueuedPerClient,
        tls: e.tls,
        clock: this.clock,
        log: log.child({ component: 'broker' }),
      });
      await broker.start();
      this.#stops.push(() => broker.stop());
      this.reportQueues(broker);
      this.#broker = broker;
      this.#mqttUrl = broker.url;
      this.#mqttLogin = broker.serviceCredentials;
    }
    await this.#enter('broker');

    this.pool.start();
    this.#stops.push(() => this.pool.close(config.shutdown.drainTimeoutMs));

    await this.#enter('models');
    // S3 upload jobs need the durable outbox as much as cloud messages do: they must survive a restart.
    if (!this.#outbox && (config.cloud.enabled || config.evidence.s3)) this.#outbox = this.#openOutbox();
    await this.#startEvidence();
    for (const sc of config.stations) {
      const station = new Station({
        line: config.line,
        config: sc,
        source: createSource(sc.id, sc.source, { clock: this.clock, log: log.child({ camera: sc.id }) }),
        trigger: this.#remember(sc.id, this.#trigger(sc)),
        pool: this.pool,
        bus: this.bus,
        clock: this.clock,
        log: log.child({ camera: sc.id }),
        runId: this.clock.wallNow().toString(36),
        ...(this.#evidence ? { onDecided: (part) => this.#evidence!.offer(part) } : {}),
        recentImagesWanted: () => (this.#liveClients?.size ?? 0) > 0 || this.clock.now() - this.#frameAskedAt < recentFramesWantedMs,
        onCameraChange: (running, detail) => {
          const m = station.model;
          const serving = m ? `serving ${m.manifest.name}@${m.manifest.version} on ${m.provider}` : 'no model';
          this.readiness.set(`station:${sc.id}`, running, running ? serving : `camera not running: ${detail}`);
          this.bus.emit('camera-state', { camera: sc.id, running, detail });
        },
      });
      this.stations.push(station);
      this.reportQueues(station);
    }
    const keys = config.models.publicKeys.map(loadPublicKey);
    this.#keys = keys;
    this.#registry = new ModelRegistry(config.models.directory!, { keys });
    const models = new ModelManager({
      registry: this.#registry,
      pool: this.pool,
      stations: this.stations,
      configured: new Map(config.stations.map((s) => [s.id, s.model])),
      store: new ActiveModelStore(config.state.directory),
      bus: this.bus,
      clock: this.clock,
      log: log.child({ component: 'models' }),
      autoRollback: config.models.autoRollback,
    });
    await models.start();
    this.#models = models;
    this.#stops.push(() => models.stop());
    const sh = config.shadow;
    const shadow = new ShadowTrials({
      stations: this.stations,
      models,
      pool: this.pool,
      bus: this.bus,
      clock: this.clock,
      log: log.child({ component: 'shadow' }),
      defaults: { share: sh.share, policy: { ...sh.policy, maxLatencyMs: sh.policy.maxLatencyMs ?? null } },
      maxLagMs: sh.maxLagMs,
      reportEveryParts: sh.reportEveryParts,
      maxDisagreements: sh.maxDisagreements,
      evidenceFor: (id) => this.#evidence?.ref(id)?.id ?? null,
    });
    shadow.start();
    this.#shadow = shadow;
    this.#stops.push(() => shadow.stop());
    for (const station of this.stations) {
      const m = station.model!;
      this.readiness.set(`station:${station.id}`, false, `model ${m.manifest.name}@${m.manifest.version} ready; source not started`);
    }

    await this.#enter('publishers');
    const local = new LocalMqttPublisher({
      url: this.#mqttUrl,
      line: config.line,
      cameras: config.stations.map((s) => s.id),
      topicPrefix: config.mqtt.topicPrefix,
      clientIdPrefix: config.mqtt.clientIdPrefix,
      ...this.#mqttLogin,
      maxQueued: config.mqtt.offlineQueue.maxMessages,
      maxQueuedBytes: config.mqtt.offlineQueue.maxBytes,
      maxInflight: config.mqtt.offlineQueue.maxInflight,
      bus: this.bus,
      log: log.child({ component: 'local-mqtt' }),
      clock: this.clock,
    });
    this.publishers.push(local);
    this.reportQueues(local);
    if (config.cloud.enabled) {
      const cloud = this.#createCloud(this.#outbox!);
      this.cloud = cloud;
      this.publishers.push(cloud);
      this.reportQueues(cloud);
      // What goes up (fails, summaries, events; passes if asked) is the feed's choice; each add
      // wakes the drain. Started before the stations, so their camera events are seen; stopped
      // (after the publisher's stop is registered, so it runs first) with its open summary
      // windows sent into the outbox.
      const feed = new CloudFeed({
        line: config.line,
        stations: config.stations,
        send: config.cloud.send,
        outbox: { add: (m) => { const kept = cloud.outbox.add(m); cloud.notify(); return kept; } },
        bus: this.bus,
        clock: this.clock,
        log: log.child({ component: 'cloud-feed' }),
        thing: config.cloud.thingName,
        // A fail's message names its evidence (and the S3 key it will have) when the store keeps it.
        evidenceFor: (v) => {
          const ref = this.#evidence?.ref(v.id);
          return ref ? { id: ref.id, ...(ref.objectKey ? { key: ref.objectKey } : {}) } : null;
        },
      });
      this.#cloudFeed = feed;
    }
    if (config.sparkplug.enabled) this.publishers.push(await this.#createSparkplug());
    if (config.opcua.enabled) {
      const opcua = await this.#createOpcUa();
      this.opcua = opcua;
      this.publishers.push(opcua);
    }
    for (const p of this.publishers) {
      await p.start();
      this.bus.on('verdict', (v) => p.publish(v));
      this.#stops.push(() => p.stop(config.shutdown.drainTimeoutMs));
    }
    const feed = this.#cloudFeed;
    if (feed) {
      feed.start();
      this.#stops.push(() => feed.stop());
    }

    // Events about models and shadow trials go to the local broker beside the verdicts.
    this.bus.on('model-changed', (e) => local.publishEvent(e.camera, { type: 'model-changed', from: e.from, to: e.to, reason: e.reason }));
    this.bus.on('shadow', (e) => local.publishEvent(e.camera, { ...e, type: `shadow-${e.kind}` }));
    // Trials named in the config start once the stations have a model (a candidate that fails its checks is logged; the station serves on).
    for (const sc of config.stations) {
      if (!sc.shadow) continue;
      try {
        await shadow.begin(sc.id, { model: sc.shadow.model, ...(sc.shadow.share !== undefined ? { share: sc.shadow.share } : {}) });
      } catch (err) {
        log.error({ camera: sc.id, candidate: sc.shadow.model, err }, 'the configured shadow trial cannot start; the station serves without it');
      }
    }

    await this.#enter('stations');
    // Stations are stopped by stop() itself, before everything else (see there).
    for (const station of this.stations) await station.start();
    const cameras = new CameraWatch({ cameras: this.stations.map((s) => ({ id: s.id, source: () => s.status().source })), bus: this.bus, clock: this.clock });
    cameras.start();
    this.#stops.push(() => cameras.stop());

    const summary = new ConsoleSummary({ bus: this.bus, clock: this.clock, intervalMs: config.summary.intervalMs, ...(this.#write ? { write: this.#write } : {}) });
    summary.start();
    this.#stops.push(() => {
      summary.flush();
      summary.stop();
    });
    if (config.models.watch) {
      const watcher = new ModelWatcher({
        root: config.models.directory!,
        intervalMs: config.models.scanIntervalMs,
        keys,
        clock: this.clock,
        log: log.child({ component: 'models' }),
        onVersion: (name, version) => models.offer(name, version),
      });
      await watcher.start();
      this.#watcher = watcher;
      this.#stops.push(() => watcher.stop());
    }
    log.info({ stations: this.stations.length, mqtt: redactText(this.#mqttUrl), api: this.#apiUrl || 'off', jpegDecoder: this.pool.jpegDecoder }, 'Linesight running');
    await this.#enter('running');
  }

  /**
   * An outbox that cannot be opened stops start-up (LS_ERR_OUTBOX_OPEN): running on without it
   * would lose every cloud message silently. A cloud that cannot be reached never does.
   */
  #openOutbox(): Outbox {
    const { cloud } = this.config;
    const classes = Object.fromEntries(Object.entries(cloud.outbox.classes).map(([c, p]) => [c, { priority: p.priority, ttlMs: p.ttlSeconds * 1000 }]));
    const outbox = new SqliteOutbox({
      path: cloud.outbox.path!,
      synchronous: cloud.outbox.synchronous,
      limits: { maxMessages: cloud.outbox.maxMessages, maxBytes: cloud.outbox.maxBytes, maxQuarantined: cloud.outbox.maxQuarantined, classes: classes as never },
      clock: this.clock,
      log: this.log.child({ component: 'outbox' }),
    });
    // Registered before its drainers, so it closes after them.
    this.#stops.push(() => outbox.close());
    return outbox;
  }

  #createCloud(outbox: Outbox): CloudPublisher {
    const { cloud } = this.config;
    const log = this.log.child({ component: 'cloud' });
    const connectTimeoutMs = cloud.reconnect.connectTimeoutMs;
    // The config loader refused greengrass-ipc without the nucleus's socket and token.
    const transport: CloudTransport = cloud.transport === 'greengrass-ipc'
      ? new GreengrassIpcTransport({ socketPath: cloud.greengrassIpc!.socketPath!, authToken: cloud.greengrassIpc!.authToken!, connectTimeoutMs, clock: this.clock })
      : new MqttCloudTransport({ url: cloud.url, thingName: cloud.thingName, tls: cloudTlsOptions(cloud.tls), connectTimeoutMs, clock: this.clock });
    return new CloudPublisher({
      transport,
      outbox,
      publishesPerSecond: cloud.publishesPerSecond,
      maxInflight: cloud.maxInflight,
      maxPayloadBytes: cloud.maxPayloadBytes,
      maxTopicSlashes: cloud.maxTopicSlashes,
      maxAttempts: cloud.maxAttempts,
      reconnect: cloud.reconnect,
      // The drain yields to inspection: parts on the workers or waiting for one come first.
      lineBusy: () => {
        const s = this.pool.stats;
        return s.running + s.queued > 0;
      },
      log,
      clock: this.clock,
    });
  }

  async #createSparkplug(): Promise<SparkplugPublisher> {
    const { SparkplugPublisher } = await import('./publish/sparkplug.js');
    const { config } = this;
    const sp = config.sparkplug;
    const broker = sp.broker === 'cloud'
      ? { url: config.cloud.url, tls: cloudTlsOptions(config.cloud.tls) }
      : { url: this.#mqttUrl, username: this.#mqttLogin.username, password: this.#mqttLogin.password, ...(this.#mqttLogin.tls ? { tls: this.#mqttLogin.tls } : {}) };
    mkdirSync(config.state.directory, { recursive: true });
    return new SparkplugPublisher({
      ...broker,
      groupId: sp.groupId ?? config.line,
      edgeNodeId: sp.edgeNodeId ?? `linesight-${config.line}`,
      stations: config.stations.map((s) => s.id),
      view: (id) => {
        const st = this.stations.find((s) => s.id === id)?.status();
        return { cameraState: st?.source.state ?? 'idle', cameraRunning: st?.source.state === 'streaming', model: st?.model ? `${st.model.name}@${st.model.version}` : '' };
      },
      bdSeqFile: join(config.state.directory, 'sparkplug-bdseq'),
      bus: this.bus,
      clock: this.clock,
      log: this.log.child({ component: 'sparkplug' }),
    });
  }

  async #createOpcUa(): Promise<OpcUaPublisher> {
    const { OpcUaPublisher } = await import('./publish/opcua-server.js');
    const { config } = this;
    return new OpcUaPublisher({
      config: { ...config.opcua, pkiDirectory: config.opcua.pkiDirectory! },
      line: config.line,
      stations: config.stations.map((s) => s.id),
      view: (id) => {
        const st = this.stations.find((s) => s.id === id)?.status();
        return st ? { cameraState: st.source.state, cameraRunning: st.source.state === 'streaming', model: st.model } : undefined;
      },
      trigger: (id, partId) => this.#triggerStation(id, partId, 'opcua'),
      bus: this.bus,
      clock: this.clock,
      log: this.log.child({ component: 'opcua' }),
      version: packageVersion,
    });
  }

  /** A part asked for over HTTP or OPC UA; refused while the station is not running. */
  #triggerStation(id: string, partId: string | undefined, origin: string): { partId: string; seq: number } {
    const station = this.stations.find((s) => s.id === id);
    if (!station) {
      if (!this.config.stations.some((s) => s.id === id)) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [id] });
      throw new LinesightError('LS_ERR_NOT_READY', `station ${id} is ${this.#state === 'starting' || this.#state === 'new' ? 'still starting' : 'stopped'}`, { args: [id] });
    }
    return station.trigger({ ...(partId ? { partId } : {}), origin });
  }

  /**
   * Evidence before the stations (they hand it their decided parts); stopped after them (stops run
   * in reverse), so the last parts' evidence is still written.
   */
  async #startEvidence(): Promise<void> {
    const { evidence: e, stations } = this.config;
    if (!e.enabled && !stations.some((s) => s.evidence?.enabled)) return;
    const overrides = new Map(stations.map((s) => [s.id, s.evidence ?? {}]));
    let uploader: EvidenceUploader | undefined;
    const store = new EvidenceStore({
      directory: e.directory!,
      quotaBytes: e.quotaMB * 1024 * 1024,
      maxAgeMs: e.maxAgeDays * 86_400_000,
      maxFiles: e.maxFiles,
      maxQueue: e.maxQueue,
      jpegQuality: e.jpegQuality,
      policy: (station) => {
        const o = overrides.get(station) ?? {};
        return { enabled: o.enabled ?? e.enabled, passSampleRate: o.passSampleRate ?? e.passSampleRate, nearThresholdMargin: o.nearThresholdMargin ?? e.nearThresholdMargin };
      },
      objectKey: e.s3 ? (v) => evidenceObjectKey(e.s3!.prefix, v) : undefined,
      onSaved: (record) => uploader?.enqueue(record),
      clock: this.clock,
      log: this.log.child({ component: 'evidence' }),
    });
    await store.start();
    this.#evidence = store;
    this.reportQueues(store);
    this.#stops.push(() => store.stop(this.config.shutdown.drainTimeoutMs));
    if (e.s3) {
      // Loaded only when configured: the AWS SDK costs about 20 MB of memory.
      const { EvidenceUploader } = await import('./evidence/s3-uploader.js');
      uploader = new EvidenceUploader({
        outbox: this.#outbox!,
        s3: e.s3,
        imagePath: (id) => store.imagePath(id),
        clock: this.clock,
        log: this.log.child({ component: 'evidence-s3' }),
      });
      uploader.start();
      this.#uploader = uploader;
      this.#stops.push(() => uploader!.stop(this.config.shutdown.drainTimeoutMs));
    }
  }

  get evidenceUploader(): EvidenceUploader | undefined {
    return this.#uploader;
  }

  /** A part that owns a bounded queue reports its depth, bound and drops to /metrics through this. */
  reportQueues(reporter: QueueReporter): void {
    this.#queueReporters.push(reporter);
  }

  /** A trigger input that goes down or comes back is news for the cloud and the bus (health-changed). */
  #onReadinessFlip(name: string, ready: boolean, detail: string): void {
    // Inputs closing at shutdown are not an outage.
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    if (ready && !this.#everReady.has(name)) {
      this.#everReady.add(name);
      return;
    }
    const [component, camera] = name.split(':');
    // station:<id> follows the camera, whose changes are camera-state events already.
    if (component !== 'trigger' || !camera) return;
    this.bus.emit('health-changed', { camera, component, ok: ready, detail });
  }

  #remember(station: string, trigger: Trigger | undefined): Trigger | undefined {
    if (trigger) this.#triggers.set(station, trigger);
    return trigger;
  }

  #trigger(sc: StationConfig): Trigger | undefined {
    const t = sc.trigger;
    const log = this.log.child({ camera: sc.id, component: 'trigger' });
    const { mqtt, line } = this.config;
    // A trigger input that is down leaves parts uninspected: /readyz says so, per station.
    const check = `trigger:${sc.id}`;
    const onHealthChange = (h: TriggerHealth) => this.readiness.set(check, h.ok, h.detail);
    switch (t.type) {
      case 'mqtt':
        this.readiness.set(check, false, 'trigger not started');
        return new MqttTrigger({
          url: this.#mqttUrl,
          topic: t.topic ?? topics.trigger(mqtt.topicPrefix, line, sc.id),
          clientId: `${mqtt.clientIdPrefix}-${line}-${sc.id}-trigger`,
          ...this.#mqttLogin,
          dedupeMs: t.dedupeMs,
          clock: this.clock,
          log,
          onHealthChange,
        });
      case 'gpio':
        this.readiness.set(check, false, 'trigger not started');
        return new GpioTrigger({ chip: t.chip, line: t.line, edge: t.edge, debounceMs: t.debounceMs, clock: this.clock, log, onHealthChange });
      default:
        return undefined; // free-run, or HTTP (the API calls Station.trigger)
    }
  }

  /** The API starts before the store: until then (or with evidence off) ids are unknown. */
  #evidenceStore(): EvidenceStore {
    if (!this.#evidence) throw new LinesightError('LS_ERR_EVIDENCE_NOT_FOUND', 'evidence is off (evidence.enabled)', { args: [''] });
    return this.#evidence;
  }

  async #startApi(): Promise<void> {
    const { api: apiConfig, models: modelsConfig } = this.config;
    if (apiConfig.protectReads && !apiConfig.token) throw new LinesightError('LS_ERR_CONFIG_INVALID', 'api.protectReads needs api.token (or LINESIGHT_API_TOKEN)');
    const maxUploadBytes = modelsConfig.maxUploadMB * 1024 * 1024;
    // The HTTP API's modules (fastify alone is 17 MiB resident) load only when it is on.
    const [{ createMetrics }, { buildApi }, { LiveClients }, { UploadSlots }] = await Promise.all([
      import('./api/metrics.js'),
      import('./api/server.js'),
      import('./api/live-clients.js'),
      import('./api/uploads.js'),
    ]);
    const uploads = new UploadSlots(modelsConfig.maxConcurrentUploads);
    const liveClients = new LiveClients({
      maxClients: apiConfig.events.maxClients,
      maxBufferedBytes: apiConfig.events.maxBufferedKB * 1024,
      log: this.log.child({ component: 'api' }),
    });
    this.#liveClients = liveClients;
    this.reportQueues(uploads);
    this.reportQueues(liveClients);
    const api = buildApi({
      readiness: this.readiness,
      metrics: createMetrics(this.bus, {
        pool: () => this.pool.stats,
        threads: () => this.pool.threadReport(),
        estimates: () => this.pool.estimates,
        triggers: () =>
          [...this.#triggers].map(([camera, t]) => ({ camera, kind: t.kind, up: t.health?.().ok ?? true, ...(t.stats?.() ?? { fired: 0, repeats: 0, restarts: 0 }) })),
        publishers: () => this.publishers.map((p) => ({ name: p.name, ...p.health() })),
        cloudFeed: () => this.#cloudFeed?.stats(),
        evidenceUpload: () => this.#uploader?.health(),
        cameras: () => this.stations.map((s) => ({ camera: s.id, ...s.status().source })),
        models: () =>
          this.stations.flatMap((s) => {
            const m = s.model;
            return m ? [{ camera: s.id, name: m.manifest.name, version: m.manifest.version, provider: m.provider }] : [];
          }),
        queues: () => this.#queueReporters.flatMap((r) => r.queues()),
        shadow: () => this.#shadow?.running() ?? [],
        broker: () => ({ ...(this.#broker?.refusals ?? {}) }),
        opcua: () => this.opcua?.stats(),
        cloud: () => {
          if (!this.cloud) return undefined;
          const h = this.cloud.health();
          const s = this.cloud.outbox.stats();
          const sync = this.cloud.outbox instanceof SqliteOutbox ? this.cloud.outbox.syncStats() : null;
          return { connected: h.connected, reconnects: h.reconnects, published: h.published, refused: h.refused, depth: s.depth, bytes: s.bytes, oldestAgeMs: s.oldestAgeMs, quarantined: s.quarantined, dropped: s.dropped, sync };
        },
      }),
      outbox: {
        outbox: () => this.cloud?.outbox,
        health: () => this.cloud?.health(),
        notify: () => this.cloud?.notify(),
      },
      stations: {
        list: () => this.stations.map((s) => s.status()),
        trigger: (id, partId) => this.#triggerStation(id, partId, 'http'),
      },
      token: apiConfig.token,
      protectReads: apiConfig.protectReads,
      uploads,
      liveClients,
      live: {
        bus: this.bus,
        stations: () => this.stations.map((s) => s.status()),
        image: (id, which) => this.stations.find((s) => s.id === id)?.image(which),
        imageOf: (id, seq) => {
          this.#frameAskedAt = this.clock.now();
          return this.stations.find((s) => s.id === id)?.imageOf(seq);
        },
      },
      shadow: {
        begin: (station, req) => this.shadow.begin(station, req),
        end: (station) => this.shadow.end(station),
        promote: (station) => this.shadow.promote(station),
        report: (station) => this.shadow.report(station),
        disagreements: (station) => this.shadow.disagreements(station),
      },
      models: {
        maxUploadBytes,
        stagingDir: modelsConfig.directory!,
        list: () => this.models.list(),
        activate: (station, ref) => this.models.activate(station, ref),
        rollback: (station) => this.models.rollback(station),
        upload: async (file) => {
          const v = await installArchive(file, {
            root: this.config.models.directory!,
            maxBytes: maxUploadBytes,
            keys: this.#keys,
          });
          const { name, version } = v.manifest;
          await this.#watcher?.markHandled(name, version);
          return { name, version, activations: await this.models.offer(name, version) };
        },
      },
      log: this.log,
      version: packageVersion,
      evidence: !(this.config.evidence.enabled || this.config.stations.some((s) => s.evidence?.enabled)) ? undefined : {
        // Until the store has started (the API starts first), the list is empty.
        list: (q) => this.#evidence?.list(q) ?? { total: 0, items: [] },
        record: (id) => this.#evidenceStore().record(id),
        image: (id) => this.#evidenceStore().image(id),
      },
    });
    const { host, port } = this.config.api;
    try {
      this.#apiUrl = await api.listen({ host, port });
    } catch (err) {
      await api.close();
      throw new LinesightError('LS_ERR_API_LISTEN', (err as Error).message, { args: [`${host}:${port}`], cause: err });
    }
    this.#stops.push(() => api.close());
    this.log.info({ url: this.#apiUrl }, 'HTTP API listening');
  }

  /**
   * Stops the box so that no accepted part goes without a verdict. In order: every trigger input
   * and camera stops (HTTP triggers answer 503 from the first moment), the parts in flight are
   * decided within shutdown.drainTimeoutMs (any still open then get `timeout`, LS_ERR_SHUTDOWN),
   * then the rest in reverse start order: the publishers flush what they hold, the pool, broker
   * and API close. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === 'starting') {
      // start() sees the request at its next stage and calls stop() itself once it has unwound.
      this.#stopRequested = true;
      await this.#starting?.catch(() => undefined);
      return;
    }
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    for (const s of this.config.stations) this.readiness.set(`station:${s.id}`, false, 'shutting down');
    const deadline = this.clock.now() + this.config.shutdown.drainTimeoutMs;
    await this.#each(this.stations, (s) => s.stopInputs(deadline), 'stopping a station input');
    await this.#each(this.stations, (s) => s.drain(deadline), 'draining a station');
    const stops = this.#stops.reverse();
    this.#stops = [];
    for (const stop of stops) {
      try {
        await stop();
      } catch (err) {
        this.log.error({ err }, 'error while stopping');
      }
    }
    this.#state = 'stopped';
  }

  async #each<T>(items: readonly T[], fn: (item: T) => Promise<void>, what: string): Promise<void> {
    await Promise.all(items.map((item) => fn(item).catch((err: unknown) => this.log.error({ err }, `error while ${what}`))));
  }
}
