// Model lifecycle per station: load a version beside the one serving (blue/green), check it
// (manifest, signature, checksum, output shape, golden samples), switch atomically for new parts,
// retire the old one once its parts have drained, remember the choice across restarts, and roll
// back — on request, or by itself when a new version errs or times out too often.
import type { Clock } from '../clock.js';
import { LinesightError, describeError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../log.js';
import { decide, ruleFromManifest } from './decision.js';
import type { LoadedModel, ModelRef } from './model-ref.js';
import { compareVersions, parseModelRef, type ModelRegistry, type ModelVersion } from './registry.js';
import type { ActiveModelStore } from './active-store.js';
import type { Verdict } from '../verdict.js';

/**
 * Where versions run (the inference pool): load and warm up in every thread, run one image,
 * drop. An interface here, so the lifecycle does not depend on how the pool works.
 */
export interface ModelHost {
  warmUp(model: ModelRef): Promise<{ provider: string; loadMs: number; scores: Float32Array }>;
  infer(job: { station: string; model: ModelRef; image: { kind: 'encoded'; data: Uint8Array }; deadline: number; budgetMs: number }): Promise<
    { ok: true; scores: Float32Array } | { ok: false; error: { code: string; message: string } }
  >;
  unload(model: Pick<ModelRef, 'key'>): Promise<void>;
}

/** What a station offers the lifecycle: the version it serves, a switch, and when a version has drained. */
export interface ModelSlot {
  readonly id: string;
  readonly model: LoadedModel | undefined;
  setModel(model: LoadedModel): void;
  whenDrainedOf(key: string): Promise<void>;
}

export interface ModelManagerOptions {
  registry: ModelRegistry;
  pool: ModelHost;
  stations: readonly ModelSlot[];
  /** The model each station's config names (name or name@version): the fallback at start. */
  configured: ReadonlyMap<string, string>;
  store: ActiveModelStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  autoRollback: { parts: number; maxFailureRate: number };
}

export interface ActivationReport {
  station: string;
  from: string | null;
  to: string;
  provider: string;
  warmupMs: number;
  golden: number;
  reason: string;
}

interface Probation {
  ref: string;
  seen: number;
  failed: number;
}

const refOf = (m: { name: string; version: string }) => `${m.name}@${m.version}`;

export class ModelManager {
  readonly #o: ModelManagerOptions;
  readonly #busy = new Set<string>();
  /** Per station, the retirement of the version last replaced (drain, then unload everywhere). */
  readonly #retiring = new Map<string, Promise<void>>();
  readonly #probation = new Map<string, Probation>();
  #off: (() => void) | undefined;

  constructor(options: ModelManagerOptions) {
    this.#o = options;
  }

  #station(id: string): ModelSlot {
    const s = this.#o.stations.find((x) => x.id === id);
    if (!s) throw new LinesightError('LS_ERR_STATION_NOT_FOUND', undefined, { args: [id] });
    return s;
  }

  /**
   * Gives every station its model before it starts. A station pinned to name@version in the
   * config serves exactly that. Otherwise, in order: a version that arrived while the service
   * was stopped (newer than any known at the last stop, checked like any new arrival), the
   * version it last served (persisted), the highest version on disk. A candidate that fails its
   * checks is logged and the next one tried.
   */
  async start(): Promise<void> {
    const state = await this.#o.store.load();
    const known = await this.#o.store.knownVersions();
    for (const station of this.#o.stations) {
      const configured = this.#o.configured.get(station.id)!;
      const { name, version: pinned } = parseModelRef(configured);
      const remembered = state[station.id]?.active;
      const candidates: Array<{ ref: string; why: string }> = [];
      if (pinned) {
        if (remembered && remembered !== configured) this.#o.log.info({ camera: station.id, pinned: configured, remembered }, 'the config pins a model version; serving it instead of the one served before the restart');
      } else {
        const arrived = known ? (await this.#o.registry.versions(name)).filter((v) => !known.has(`${name}@${v}`)).reverse() : [];
        candidates.push(...arrived.map((v) => ({ ref: `${name}@${v}`, why: 'arrived while stopped' })));
        if (remembered && parseModelRef(remembered).name === name) candidates.push({ ref: remembered, why: 'served before the restart' });
      }
      let loaded: { version: ModelVersion; model: LoadedModel; golden: number } | undefined;
      for (const c of candidates) {
        try {
          loaded = await this.#prepare(c.ref);
          this.#o.log.info({ camera: station.id, model: c.ref, reason: c.why }, 'starting on this model version');
          break;
        } catch (err) {
          this.#o.log.warn({ camera: station.id, model: c.ref, reason: c.why, err }, 'model version cannot serve; trying the next candidate');
          if (c.why === 'arrived while stopped') this.#o.bus.emit('model-refused', { camera: station.id, model: c.ref, error: describeError(err) });
        }
      }
      loaded ??= await this.#prepare(configured);
      station.setModel(loaded.model);
      const ref = refOf(loaded.version.manifest);
      await this.#o.store.update(station.id, (s) => ({
        active: ref,
        history: s?.active === ref || !s?.active ? s?.history ?? [] : [...s.history, s.active].slice(-20),
      }));
      this.#o.log.info({ camera: station.id, model: ref, provider: loaded.model.provider }, 'station model ready');
    }
    // Everything on disk now is known: only later arrivals are news at the next start.
    const all: string[] = [];
    for (const n of await this.#o.registry.names()) for (const v of await this.#o.registry.versions(n)) all.push(`${n}@${v}`);
    await this.#o.store.setKnownVersions(all);
    this.#off = this.#o.bus.on('verdict', (v) => this.#watch(v));
  }

  stop(): void {
    this.#off?.();
  }

  /** Every version on disk, with the stations serving it. */
  async list(): Promise<Array<{ name: string; versions: Array<{ version: string; servedBy: string[] }> }>> {
    const out = [];
    for (const name of await this.#o.registry.names()) {
      const versions = await this.#o.registry.versions(name);
      out.push({
        name,
        versions: versions.map((version) => ({
          version,
          servedBy: this.#o.stations.filter((s) => s.model && refOf(s.model.manifest) === `${name}@${version}`).map((s) => s.id),
        })),
      });
    }
    return out;
  }

  /**
   * Loads and checks `ref` beside the serving version, then switches the station to it. On any
   * failure the old version keeps serving and the error says why.
   */
  async activate(stationId: string, ref: string, reason = 'requested'): Promise<ActivationReport> {
    const station = this.#station(stationId);
    if (this.#busy.has(stationId)) throw new LinesightError('LS_ERR_MODEL_BUSY', undefined, { args: [stationId] });
    this.#busy.add(stationId);
    try {
      // The version replaced by the last swap leaves the workers first (its parts have deadlines,
      // so this is short): threads never hold more than the active and the previous version.
      await this.#retiring.get(stationId);
      const previous = station.model;
      const { version, model, golden } = await this.#prepare(ref);
      const to = refOf(version.manifest);
      const from = previous ? refOf(previous.manifest) : null;
      if (previous?.ref.key === model.ref.key) {
        return { station: stationId, from, to, provider: model.provider, warmupMs: 0, golden, reason: 'already active' };
      }
      station.setModel(model);
      await this.#o.store.update(stationId, (s) => ({
        active: to,
        history: reason === 'rollback' ? (s?.history ?? []).slice(0, -1) : [...(s?.history ?? []), ...(from ? [from] : [])].slice(-20),
      }));
      if (reason !== 'rollback' && this.#o.autoRollback.parts > 0) this.#probation.set(stationId, { ref: to, seen: 0, failed: 0 });
      else this.#probation.delete(stationId);
      this.#o.log.info({ camera: stationId, from, to, reason }, 'model switched');
      this.#o.bus.emit('model-changed', { camera: stationId, from, to, reason });
      if (previous) this.#retiring.set(stationId, this.#retire(station, previous.ref));
      return { station: stationId, from, to, provider: model.provider, warmupMs: 0, golden, reason };
    } finally {
      this.#busy.delete(stationId);
    }
  }

  /** Back to the version served before the current one. */
  async rollback(stationId: string): Promise<ActivationReport> {
    this.#station(stationId);
    const state = await this.#o.store.load();
    const previous = state[stationId]?.history.at(-1);
    if (!previous) throw new LinesightError('LS_ERR_NO_ROLLBACK', undefined, { args: [stationId] });
    return this.activate(stationId, previous, 'rollback');
  }

  /**
   * Loads, warms and checks `ref` in every thread like an activation, without serving it (a
   * shadow trial's candidate). On any failure nothing stays resident and the error says why.
   */
  async prepareCandidate(ref: string): Promise<LoadedModel> {
    return (await this.#prepare(ref)).model;
  }

  /** A candidate no longer needed leaves the workers, unless a station serves it by now. */
  async releaseCandidate(model: LoadedModel): Promise<void> {
    if (this.#o.stations.some((s) => s.model?.ref.key === model.ref.key)) return;
    await this.#o.pool.unload(model.ref);
  }

  /** A version that appeared on disk: stations serving an older version of that model move to it. */
  async offer(name: string, version: string): Promise<ActivationReport[]> {
    const reports: ActivationReport[] = [];
    for (const station of this.#o.stations) {
      const m = station.model;
      if (!m || m.manifest.name !== name || compareVersions(version, m.manifest.version) <= 0) continue;
      // A station pinned to name@version in its config is not moved by a new arrival.
      if (parseModelRef(this.#o.configured.get(station.id)!).version) continue;
      try {
        reports.push(await this.activate(station.id, `${name}@${version}`, 'new version'));
      } catch (err) {
        this.#o.log.error({ camera: station.id, model: `${name}@${version}`, err }, 'new model version refused; the current one keeps serving');
        this.#o.bus.emit('model-refused', { camera: station.id, model: `${name}@${version}`, error: describeError(err) });
      }
    }
    return reports;
  }

  /**
   * Loads `ref` in every worker thread and checks it. A version that fails a check is unloaded
   * again (unless a station serves it), so a refused version is resident nowhere.
   */
  async #prepare(ref: string): Promise<{ version: ModelVersion; model: LoadedModel; golden: number }> {
    const version = await this.#o.registry.resolve(ref);
    const m = version.manifest;
    const modelRef: ModelRef = { key: version.key, bytes: version.bytes, manifest: m };
    const report = await this.#o.pool.warmUp(modelRef);
    let golden: number;
    try {
      try {
        decide(report.scores, ruleFromManifest(m));
      } catch (err) {
        throw new LinesightError('LS_ERR_MODEL_SHAPE', `${refOf(m)}: ${(err as Error).message}`);
      }
      golden = await this.#checkGolden(version, modelRef);
    } catch (err) {
      if (!this.#o.stations.some((s) => s.model?.ref.key === modelRef.key)) await this.#o.pool.unload(modelRef).catch(() => undefined);
      throw err;
    }
    this.#o.log.info({ model: refOf(m), provider: report.provider, loadMs: Math.round(report.loadMs), golden }, 'model loaded, warmed up and checked');
    return { version, model: { ref: modelRef, manifest: m, provider: report.provider }, golden };
  }

  async #checkGolden(version: ModelVersion, model: ModelRef): Promise<number> {
    const rule = ruleFromManifest(version.manifest);
    const problems: string[] = [];
    // The bytes the registry checked against the (signed) sha256: nothing is read again here.
    for (const g of version.golden) {
      // Golden samples are checks, not parts: no budget, only a generous hang limit.
      const r = await this.#o.pool.infer({ station: '(golden)', model, image: { kind: 'encoded', data: new Uint8Array(g.bytes) }, deadline: this.#o.clock.now() + 3_600_000, budgetMs: 30_000 });
      if (!r.ok) {
        problems.push(`${g.file}: ${r.error.message}`);
        continue;
      }
      const d = decide(r.scores, rule);
      if (d.verdict !== g.verdict) problems.push(`${g.file}: expected ${g.verdict}, got ${d.verdict} (${d.label} ${d.score.toFixed(3)})`);
    }
    if (problems.length) throw new LinesightError('LS_ERR_MODEL_GOLDEN', `${refOf(version.manifest)}: ${problems.join('; ')}`);
    return version.golden.length;
  }

  /** After its last part settles, and if no station serves it, the old version leaves the workers. */
  async #retire(station: ModelSlot, old: ModelRef): Promise<void> {
    await station.whenDrainedOf(old.key);
    if (this.#o.stations.some((s) => s.model?.ref.key === old.key)) return;
    try {
      await this.#o.pool.unload(old);
    } catch (err) {
      this.#o.log.warn({ model: old.key, err }, 'could not unload the old model version');
    }
  }

  #watch(v: Verdict): void {
    const p = this.#probation.get(v.camera);
    if (!p || !v.model || refOf(v.model) !== p.ref) return;
    p.seen++;
    if (v.verdict === 'error' || v.verdict === 'timeout') p.failed++;
    const { parts, maxFailureRate } = this.#o.autoRollback;
    if (p.failed / parts > maxFailureRate) {
      this.#probation.delete(v.camera);
      this.#o.log.error({ camera: v.camera, model: p.ref, failed: p.failed, seen: p.seen }, 'new model version fails too often: rolling back');
      this.rollback(v.camera).catch((err) => this.#o.log.error({ camera: v.camera, err: describeError(err).message }, 'automatic rollback failed'));
    } else if (p.seen >= parts) {
      this.#probation.delete(v.camera);
      this.#o.log.info({ camera: v.camera, model: p.ref, failed: p.failed, seen: p.seen }, 'new model version passed its probation');
    }
  }
}
