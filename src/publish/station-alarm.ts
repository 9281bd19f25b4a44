// A station's alarm, as a PLC or an operator sees it: raised when the station cannot be trusted
// to decide parts (camera down, a timeout or error verdict), latched until someone acknowledges it
// and the cause is gone. A fail verdict is the station doing its job, not an alarm.
import type { Verdict } from '../verdict.js';

export interface AlarmState {
  active: boolean;
  acknowledged: boolean;
  /** Why it was raised last; empty when never raised. */
  text: string;
}

export class StationAlarm {
  #active = false;
  #acknowledged = true;
  #text = '';
  #cameraDown = false;

  get state(): AlarmState {
    return { active: this.#active, acknowledged: this.#acknowledged, text: this.#text };
  }

  /** Returns whether the state changed. */
  verdict(v: Verdict): boolean {
    if (v.verdict !== 'timeout' && v.verdict !== 'error') return false;
    return this.#raise(`${v.verdict} on part ${v.partId}${v.error ? `: ${v.error.code}` : ''}`);
  }

  camera(running: boolean, detail: string): boolean {
    this.#cameraDown = !running;
    return running ? this.#clearIfAcknowledged() : this.#raise(`camera not running: ${detail}`);
  }

  /** An acknowledged alarm whose cause is gone clears; one whose cause stays remains active, acknowledged. */
  acknowledge(): boolean {
    const before = this.#key();
    this.#acknowledged = true;
    this.#clearIfAcknowledged();
    return this.#key() !== before;
  }

  #raise(text: string): boolean {
    const before = this.#key();
    this.#active = true;
    this.#acknowledged = false;
    this.#text = text;
    return this.#key() !== before;
  }

  #clearIfAcknowledged(): boolean {
    const before = this.#key();
    if (this.#acknowledged && !this.#cameraDown) this.#active = false;
    return this.#key() !== before;
  }

  #key(): string {
    return `${this.#active}|${this.#acknowledged}|${this.#text}`;
  }
}
