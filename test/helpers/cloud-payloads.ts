// Cloud payloads checked against their documented schemas (src/publish/cloud-messages.ts).
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { cloudPayloadSchemas } from '../../src/publish/cloud-messages.js';
import type { NewMessage } from '../../src/publish/outbox.js';

const ajv = new Ajv({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validators = Object.fromEntries(Object.entries(cloudPayloadSchemas).map(([k, s]) => [k, ajv.compile(s)]));

/** Checks a message against its documented schema (and its topic against IoT Core's slash limit); returns its payload. */
export function checkedPayload(m: Pick<NewMessage, 'payload' | 'topic'>): Record<string, any> {
  const p = JSON.parse(m.payload.toString()) as Record<string, any>;
  assert.equal(p.v, 1);
  const validate = validators[p.kind as string];
  assert.ok(validate, `unknown kind ${p.kind}`);
  assert.ok(validate(p), `${p.kind} payload does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(p)}`);
  assert.ok(m.topic.split('/').length - 1 <= 7, m.topic);
  return p;
}
