// Turns JSON Schema (ajv) errors into one line per problem that names the path, the value
// found and what was expected. Config files and model manifests both report through this.
import type { ErrorObject } from 'ajv';
import { CENSOR, isSecretKey, redactText } from './redact.js';

function pointerToPath(pointer: string): string {
  if (!pointer) return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const seg of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = redactText(JSON.stringify(v));
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

/** A wrong password is still a password: say what kind of value it was, never the value. */
function showAt(path: string, v: unknown): string {
  if (!isSecretKey(path.split('.').pop()!)) return show(v);
  return typeof v === 'string' ? `a ${v.length}-character string ${CENSOR}` : `a ${v === null ? 'null' : typeof v} ${CENSOR}`;
}

function describeOne(e: ErrorObject, data: unknown): string | undefined {
  const path = pointerToPath(e.instancePath);
  const got = showAt(path, valueAt(data, e.instancePath));
  const p = e.params as Record<string, unknown>;
  const schema = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const allowed = Object.keys(schema?.properties ?? {}).join(', ');
      return `${path === '(root)' ? key : `${path}.${key}`}: unknown key; expected one of: ${allowed}`;
    }
    case 'required':
      return `${path}: missing required key "${String(p.missingProperty)}"`;
    case 'type':
      return `${path}: got ${got}, expected ${String(p.type)}`;
    case 'enum':
      return `${path}: got ${got}, expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${path}: got ${got}, expected ${JSON.stringify(p.allowedValue)}`;
    case 'discriminator':
      if (p.error === 'mapping') {
        const variants = (e.parentSchema as { oneOf?: Array<{ properties?: { type?: { const?: string } } }> }).oneOf ?? [];
        const kinds = variants.map((v) => JSON.stringify(v.properties?.type?.const)).join(', ');
        return `${path}.type: got ${show(p.tagValue)}, expected one of ${kinds}`;
      }
      return `${path}: missing "type"`;
    case 'oneOf':
    case 'anyOf':
      return undefined; // the branch errors say more
    case 'pattern':
      return `${path}: got ${got}, expected a string matching ${String(p.pattern)}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${path}: got ${got}, expected a number ${String(p.comparison)} ${String(p.limit)}`;
    case 'minItems':
      return `${path}: got ${got}, expected at least ${String(p.limit)} item(s)`;
    case 'minLength':
      return `${path}: got ${got}, expected at least ${String(p.limit)} character(s)`;
    case 'maxItems':
      return `${path}: got ${(valueAt(data, e.instancePath) as unknown[]).length} items, expected at most ${String(p.limit)}`;
    case 'maxLength':
      return `${path}: got ${(valueAt(data, e.instancePath) as string).length} characters, expected at most ${String(p.limit)}`;
    case 'maxProperties':
      return `${path}: got ${Object.keys(valueAt(data, e.instancePath) as object).length} keys, expected at most ${String(p.limit)}`;
    default:
      return `${path}: got ${got}, ${e.message ?? 'invalid'}`;
  }
}

export function schemaProblems(errors: ErrorObject[] | null | undefined, data: unknown): string[] {
  return [...new Set((errors ?? []).map((e) => describeOne(e, data)).filter((s): s is string => !!s))];
}
