// The last part of a station as one OPC UA structure (PartSnapshotDataType), so a client reads or
// subscribes to one node and gets one part's values together, typed, with nothing to parse. The
// type is defined in the address space with its DataTypeDefinition and a binary encoding: a
// generic client (UaExpert, node-opcua, open62541, Ignition) learns the fields from the server
// itself (OPC UA 1.04 "ComplexTypes2017"), with no type dictionary to import.
import { ensureDatatypeExtracted, type AddressSpace, type Namespace, type UADataType } from 'node-opcua-address-space';
import { DataType } from 'node-opcua-variant';
import type { Verdict } from '../verdict.js';
import { verdictKinds } from '../verdict.js';

/** Fields in order; a client sees these names. Built-in types are named by their numeric node id (i=N), which is the DataType value. */
const fields: ReadonlyArray<readonly [string, DataType, string]> = [
  ['Sequence', DataType.UInt32, 'Grows by one per part published at this station'],
  ['PartId', DataType.String, 'The part\'s id'],
  ['PartSeq', DataType.UInt32, 'The part\'s sequence at the station'],
  ['Verdict', DataType.Int32, `0..${verdictKinds.length - 1}: ${verdictKinds.join(', ')}`],
  ['VerdictText', DataType.String, verdictKinds.join(', ')],
  ['Action', DataType.String, 'accept or reject'],
  ['Reject', DataType.Boolean, 'The gate rejects this part'],
  ['Label', DataType.String, 'The model\'s label, empty when none'],
  ['Score', DataType.Double, 'The model\'s score, NaN when none'],
  ['ModelName', DataType.String, 'The model that decided the part'],
  ['ModelVersion', DataType.String, 'Its version'],
  ['DeadlineMet', DataType.Boolean, 'Decided within the budget'],
  ['LatencyMs', DataType.Double, 'Capture to verdict, milliseconds'],
  ['CapturedAt', DataType.DateTime, 'Capture time (null when unknown)'],
  ['DecidedAt', DataType.DateTime, 'Decision time'],
];

export const partSnapshotFieldNames = fields.map(([name]) => name);

/** Defines the DataType (ns=1;s=PartSnapshotDataType) and its Default Binary encoding. */
export function definePartSnapshotType(ns: Namespace): UADataType {
  const dataType = ns.createDataType({
    browseName: 'PartSnapshotDataType',
    nodeId: 's=PartSnapshotDataType',
    description: 'One part at a station: everything a PLC needs about its verdict, in one value.',
    isAbstract: false,
    subtypeOf: 'Structure',
    partialDefinition: fields.map(([name, type, description]) => ({ name, dataType: `i=${type}`, description })),
  });
  const encoding = ns.addObject({ browseName: 'Default Binary', nodeId: 's=PartSnapshotDataType.DefaultBinary', typeDefinition: 'DataTypeEncodingType' });
  dataType.addReference({ referenceType: 'HasEncoding', nodeId: encoding });
  return dataType;
}

/**
 * Builds the type's encoder from its definition; once, before the first part. node-opcua extracts
 * structure types lazily, and setting a value is synchronous, so this must have run first.
 */
export async function loadPartSnapshotType(addressSpace: AddressSpace, dataType: UADataType): Promise<void> {
  const manager = await ensureDatatypeExtracted(addressSpace);
  await manager.getExtensionObjectConstructorFromDataTypeAsync(dataType.nodeId);
}

/** The structure's value for one part (node-opcua's field names are the camelCase of the declared ones). */
export function partSnapshot(v: Verdict, sequence: number): Record<string, unknown> {
  return {
    sequence,
    partId: v.partId,
    partSeq: v.seq >>> 0,
    verdict: verdictKinds.indexOf(v.verdict),
    verdictText: v.verdict,
    action: v.action,
    reject: v.action === 'reject',
    label: v.label ?? '',
    score: v.score ?? Number.NaN,
    modelName: v.model?.name ?? '',
    modelVersion: v.model?.version ?? '',
    deadlineMet: v.deadlineMet,
    latencyMs: v.timings.totalMs,
    capturedAt: v.capturedAt ? new Date(v.capturedAt) : null,
    decidedAt: new Date(v.decidedAt),
  };
}
