// A station's alarm as an OPC UA Alarms & Conditions object (an AlarmConditionType instance,
// ns=1;s=<line>.<station>.Alarm), so an alarm client (Ignition, WinCC, UaExpert's event view)
// shows and acknowledges it with no Linesight-specific setup: it subscribes to events on the
// station, the line or the Server object, calls ConditionRefresh, and calls the standard
// Acknowledge(EventId, Comment). StationAlarm stays the one place that decides when the alarm is
// active; this class only mirrors its state into the condition and reports acknowledgements back.
import type { Namespace, UAAlarmConditionEx, UAObject, UAVariable } from 'node-opcua-address-space';
import type { AlarmState } from './station-alarm.js';

/** OPC UA severities run 1..1000; 700 is "high" in the usual four bands, below a safety alarm. */
const activeSeverity = 700;
const normalSeverity = 100;

/** The condition's methods a client may call, and the right each needs; none may disable it. */
export const conditionMethodRights: Readonly<Record<string, 'acknowledge' | null>> = {
  Acknowledge: 'acknowledge',
  AddComment: 'acknowledge',
  // Disabling the alarm would hide a station that cannot decide parts: no user has that right.
  Disable: null,
  Enable: null,
};

export class StationCondition {
  readonly node: UAAlarmConditionEx;

  /**
   * `station` must already be an event source of a notifier that leads to the Server object (the
   * line folder): events bubble up that chain, so a client subscribed at any level receives them.
   * `input` is the station's AlarmActive variable. `onAcknowledged` runs after a client's Acknowledge succeeded (the right was checked before).
   */
  constructor(ns: Namespace, station: UAObject, input: UAVariable, line: string, id: string, onAcknowledged: (comment: string) => void) {
    this.node = ns.instantiateAlarmCondition('AlarmConditionType', {
      browseName: 'Alarm',
      nodeId: `s=${line}.${id}.Alarm`,
      componentOf: station,
      conditionSource: station,
      conditionName: `${id} alarm`,
      // StationAlarm decides; AlarmActive is where its verdict shows as a variable.
      inputNode: input,
    });
    this.node.on('acknowledged', (_eventId, comment) => onAcknowledged(comment.text ?? ''));
  }

  /** The branch's acknowledgement, as node-opcua's Acknowledge does it (an event, audit included). */
  acknowledge(comment: string): boolean {
    const branch = this.node.currentBranch();
    if (branch.getAckedState()) return false;
    this.node.acknowledgeAndAutoConfirmBranch(branch, comment);
    return true;
  }

  /** Makes the condition show `state`, raising one event when something a client sees changed. */
  show(state: AlarmState, at: Date): void {
    const branch = this.node.currentBranch();
    const retain = state.active || !state.acknowledged;
    const message = state.active ? state.text : state.text ? `cleared (was: ${state.text})` : 'normal';
    if (branch.getActiveState() === state.active && branch.getAckedState() === state.acknowledged && branch.getRetain() === retain && branch.getMessage().text === message) return;
    branch.setActiveState(state.active);
    branch.setAckedState(state.acknowledged);
    this.node.raiseNewCondition({ message, severity: state.active ? activeSeverity : normalSeverity, retain, time: at });
  }
}
