// "CODE: message" of the LinesightError a call throws, or "ok": one line to match in a test.
import assert from 'node:assert/strict';
import { isLinesightError } from '../../src/errors.js';

export function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(isLinesightError(err), String(err));
    return `${err.code}: ${err.message}`;
  }
}
