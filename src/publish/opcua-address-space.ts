// The address space a PLC browses: under Objects, one folder per line, one folder per station in
// it, each with the last part's verdict, counters, health and the two methods. Node ids are
// strings built from the line and station ids only (ns=1;s=<line>.<station>.<Name>), so they stay
// the same across restarts, upgrades and model swaps; a PLC program can hard-code them.
//
// One consistent snapshot per part: every per-part variable changes in the same synchronous turn,
// with the same source timestamp (the decision time) and the station's Sequence, which grows by
// one per part. A client that reads Sequence first and last in one Read and gets the same value
// has one part's values; LastPart carries all of them in one structure (PartSnapshotDataType), and
// Snapshot in one JSON string, for clients that want one node.
import { EventNotifierFlags, type AddressSpace, type ISessionContext, type Namespace, type UAMethod, type UADataType, type UAObject, type UAVariable } from 'node-opcua-address-space';
import type { CallMethodResultOptions } from 'node-opcua-types';
import { StatusCodes, type StatusCode } from 'node-opcua-status-code';
import { DataType, Variant, type VariantOptions } from 'node-opcua-variant';
import type { Verdict } from '../verdict.js';
import { verdictKinds } from '../verdict.js';
import { partSnapshot } from './opcua-part-snapshot.js';
import type { AlarmState } from './station-alarm.js';

/** Values of LastVerdict (an Int32): the order of verdictKinds. */
export const verdictCodes: Readonly<Record<string, number>> = Object.fromEntries(verdictKinds.map((k, i) => [k, i]));

/** The names of a station's variables, in the order they are documented. */
export const stationVariables = [
  'Sequence', 'PartId', 'PartSeq', 'LastVerdict', 'LastVerdictText', 'Action', 'Reject', 'Label', 'Score', 'ModelName', 'ModelVersion',
  'DeadlineMet', 'LatencyMs', 'CapturedAt', 'DecidedAt', 'Snapshot',
  'CountPass', 'CountFail', 'CountUncertain', 'CountTimeout', 'CountError', 'CountTotal', 'Yield', 'BudgetMisses',
  'CameraState', 'CameraRunning', 'ModelState', 'ServingModel', 'AlarmActive', 'AlarmAcknowledged', 'AlarmText',
] as const;
export type StationVariable = (typeof stationVariables)[number];

const types: Record<StationVariable, DataType> = {
  Sequence: DataType.UInt32, PartId: DataType.String, PartSeq: DataType.UInt32, LastVerdict: DataType.Int32, LastVerdictText: DataType.String,
  Action: DataType.String, Reject: DataType.Boolean, Label: DataType.String, Score: DataType.Double, ModelName: DataType.String,
  ModelVersion: DataType.String, DeadlineMet: DataType.Boolean, LatencyMs: DataType.Double, CapturedAt: DataType.DateTime,
  DecidedAt: DataType.DateTime, Snapshot: DataType.String, CountPass: DataType.UInt32, CountFail: DataType.UInt32,
  CountUncertain: DataType.UInt32, CountTimeout: DataType.UInt32, CountError: DataType.UInt32, CountTotal: DataType.UInt32,
  Yield: DataType.Double, BudgetMisses: DataType.UInt32, CameraState: DataType.String, CameraRunning: DataType.Boolean,
  ModelState: DataType.String, ServingModel: DataType.String, AlarmActive: DataType.Boolean, AlarmAcknowledged: DataType.Boolean,
  AlarmText: DataType.String,
};

const descriptions: Partial<Record<StationVariable, string>> = {
  Sequence: 'Grows by one per part published here; all per-part variables carry the same one. Read it first and last to check a consistent read.',
  LastVerdict: `0 ${verdictKinds.join(', ')} as 0..${verdictKinds.length - 1}`.slice(2),
  Snapshot: 'The last part as one JSON object (sequence, partId, verdict, action, label, score, model, deadlineMet, latencyMs, capturedAt, decidedAt).',
  Yield: 'Share of pass verdicts among all verdicts since start (0..1).',
  BudgetMisses: 'Parts whose verdict missed its deadline since start.',
};

export const nodeIdOf = (line: string, station: string, name: string) => `ns=1;s=${line}.${station}.${name}`;
export const lineNodeIdOf = (line: string, name: string) => `ns=1;s=${line}.${name}`;

export type MethodHandler = (input: Variant[], user: string | null) => Promise<{ status: StatusCode; output?: VariantOptions[] }>;

export interface StationMethods {
  acknowledgeAlarm: MethodHandler;
  triggerPart: MethodHandler;
}

export interface StationCounters {
  counts: Record<(typeof verdictKinds)[number], number>;
  budgetMisses: number;
}

/** One station's folder and its variables. */
export class StationNodes {
  readonly #vars = new Map<StationVariable, UAVariable>();
  readonly #lastPart: UAVariable;
  readonly #snapshotType: UADataType;
  #sequence = 0;

  /** The station's folder: an event notifier and an event source of the line (its alarm's events start here). */
  readonly folder: UAObject;

  constructor(ns: Namespace, parent: UAObject, line: string, station: string, methods: StationMethods, snapshotType: UADataType) {
    const folder = ns.addFolder(parent, { browseName: station, nodeId: `s=${line}.${station}` });
    folder.setEventNotifier(EventNotifierFlags.SubscribeToEvents);
    parent.addReference({ referenceType: 'HasEventSource', nodeId: folder });
    this.folder = folder;
    for (const name of stationVariables) {
      const v = ns.addVariable({
        componentOf: folder,
        browseName: name,
        nodeId: `s=${line}.${station}.${name}`,
        dataType: types[name],
        ...(descriptions[name] ? { description: descriptions[name] } : {}),
        // Exception-based: a change is reported as it happens, not when a sampler looks.
        minimumSamplingInterval: 0,
      });
      this.#vars.set(name, v);
    }
    this.#snapshotType = snapshotType;
    this.#lastPart = ns.addVariable({
      componentOf: folder,
      browseName: 'LastPart',
      nodeId: `s=${line}.${station}.LastPart`,
      dataType: snapshotType,
      description: 'The last part as one PartSnapshotDataType structure (the fields of Sequence ... DecidedAt); one read or notification is one part.',
      minimumSamplingInterval: 0,
    });
    const ack = ns.addMethod(folder, {
      browseName: 'AcknowledgeAlarm',
      nodeId: `s=${line}.${station}.AcknowledgeAlarm`,
      description: 'Acknowledges the station\'s alarm; needs a user with the acknowledge right.',
      inputArguments: [],
      outputArguments: [],
    });
    bind(ack, methods.acknowledgeAlarm);
    const trigger = ns.addMethod(folder, {
      browseName: 'TriggerPart',
      nodeId: `s=${line}.${station}.TriggerPart`,
      description: 'Inspects a part now, as the HTTP trigger does; needs a user with the trigger right. Input: the part id (empty: one is made). Output: the part id and its sequence.',
      inputArguments: [{ name: 'PartId', dataType: DataType.String, description: 'The part\'s id, or empty' }],
      outputArguments: [
        { name: 'PartId', dataType: DataType.String, description: 'The part id' },
        { name: 'PartSeq', dataType: DataType.UInt32, description: 'The part\'s sequence at the station' },
      ],
    });
    bind(trigger, methods.triggerPart);
  }

  /** A variable by name (the alarm condition names AlarmActive as its input). */
  variable(name: StationVariable): UAVariable {
    return this.#vars.get(name)!;
  }

  get sequence(): number {
    return this.#sequence;
  }

  /** Every per-part variable in one synchronous turn, all with the decision time as source timestamp. */
  verdict(v: Verdict, counters: StationCounters): void {
    const seq = ++this.#sequence;
    const at = new Date(v.decidedAt);
    const total = Object.values(counters.counts).reduce((a, b) => a + b, 0);
    const snapshot = {
      sequence: seq, partId: v.partId, partSeq: v.seq, verdict: v.verdict, action: v.action, label: v.label, score: v.score,
      model: v.model, deadlineMet: v.deadlineMet, latencyMs: v.timings.totalMs, capturedAt: v.capturedAt, decidedAt: v.decidedAt,
    };
    this.#set('Sequence', seq, at);
    this.#set('PartId', v.partId, at);
    this.#set('PartSeq', v.seq >>> 0, at);
    this.#set('LastVerdict', verdictCodes[v.verdict]!, at);
    this.#set('LastVerdictText', v.verdict, at);
    this.#set('Action', v.action, at);
    this.#set('Reject', v.action === 'reject', at);
    this.#set('Label', v.label ?? '', at);
    this.#set('Score', v.score ?? Number.NaN, at);
    this.#set('ModelName', v.model?.name ?? '', at);
    this.#set('ModelVersion', v.model?.version ?? '', at);
    this.#set('DeadlineMet', v.deadlineMet, at);
    this.#set('LatencyMs', v.timings.totalMs, at);
    this.#set('CapturedAt', v.capturedAt ? new Date(v.capturedAt) : null, v.capturedAt ? new Date(v.capturedAt) : at);
    this.#set('DecidedAt', at, at);
    this.#set('Snapshot', JSON.stringify(snapshot), at);
    const part = this.#snapshotType.addressSpace.constructExtensionObject(this.#snapshotType, partSnapshot(v, seq));
    this.#lastPart.setValueFromSource(new Variant({ dataType: DataType.ExtensionObject, value: part }), StatusCodes.Good, at);
    this.#set('CountPass', counters.counts.pass, at);
    this.#set('CountFail', counters.counts.fail, at);
    this.#set('CountUncertain', counters.counts.uncertain, at);
    this.#set('CountTimeout', counters.counts.timeout, at);
    this.#set('CountError', counters.counts.error, at);
    this.#set('CountTotal', total, at);
    this.#set('Yield', total ? counters.counts.pass / total : 0, at);
    this.#set('BudgetMisses', counters.budgetMisses, at);
  }

  camera(state: string, running: boolean, at: Date): void {
    this.#set('CameraState', state, at);
    this.#set('CameraRunning', running, at);
  }

  model(state: string, serving: string, at: Date): void {
    this.#set('ModelState', state, at);
    this.#set('ServingModel', serving, at);
  }

  alarm(a: AlarmState, at: Date): void {
    this.#set('AlarmActive', a.active, at);
    this.#set('AlarmAcknowledged', a.acknowledged, at);
    this.#set('AlarmText', a.text, at);
  }

  #set(name: StationVariable, value: unknown, at: Date): void {
    this.#vars.get(name)!.setValueFromSource(new Variant({ dataType: types[name], value }), StatusCodes.Good, at);
  }
}

/** The line's folder (ns=1;s=<line>) with its overall state. */
export class LineNodes {
  readonly folder: UAObject;
  readonly #state: UAVariable;
  readonly #healthy: UAVariable;

  constructor(addressSpace: AddressSpace, ns: Namespace, line: string) {
    // An event notifier under the Server object: an alarm client subscribed to the line gets every station's alarm events.
    this.folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: line, nodeId: `s=${line}` });
    this.folder.setEventNotifier(EventNotifierFlags.SubscribeToEvents);
    addressSpace.rootFolder.objects.server.addReference({ referenceType: 'HasNotifier', nodeId: this.folder });
    this.#state = ns.addVariable({ componentOf: this.folder, browseName: 'State', nodeId: `s=${line}.State`, dataType: DataType.String, minimumSamplingInterval: 0,
      description: 'running: every station has its camera and model and no unacknowledged alarm; degraded: one has not; stopping.' });
    this.#healthy = ns.addVariable({ componentOf: this.folder, browseName: 'Healthy', nodeId: `s=${line}.Healthy`, dataType: DataType.Boolean, minimumSamplingInterval: 0 });
  }

  set(state: 'starting' | 'running' | 'degraded' | 'stopping', at: Date): void {
    this.#state.setValueFromSource(new Variant({ dataType: DataType.String, value: state }), StatusCodes.Good, at);
    this.#healthy.setValueFromSource(new Variant({ dataType: DataType.Boolean, value: state === 'running' }), StatusCodes.Good, at);
  }
}

/** The user name a session logged in with; null for anonymous (or no session). */
export function userOf(context: ISessionContext): string | null {
  const token = context.session?.userIdentityToken as { userName?: string } | undefined;
  return typeof token?.userName === 'string' && token.userName ? token.userName : null;
}

function bind(method: UAMethod, handler: MethodHandler): void {
  method.bindMethod(async (input: Variant[], context: ISessionContext): Promise<CallMethodResultOptions> => {
    const user = userOf(context);
    const { status, output } = await handler(input, user);
    return { statusCode: status, outputArguments: output ?? [] };
  });
}
