// The README's config reference, generated from the schema so the two cannot drift.
import { ConfigSchema } from './schema.js';

interface Node {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  oneOf?: Node[];
  minimum?: number;
  maximum?: number;
}

function typeOf(n: Node): string {
  if (n.enum) return n.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (n.const !== undefined) return `\`${String(n.const)}\``;
  if (n.type === 'array' && n.items) return `list of ${typeOf(n.items)}`;
  if (n.oneOf) return 'object';
  return Array.isArray(n.type) ? n.type.join(' \\| ') : (n.type ?? 'any');
}

function rows(n: Node, path: string, required: boolean, out: string[]): void {
  const def = n.default !== undefined && typeof n.default !== 'object' ? `\`${JSON.stringify(n.default)}\`` : n.default !== undefined && Array.isArray(n.default) ? `\`${JSON.stringify(n.default)}\`` : required ? '*required*' : '';
  if (path && !n.properties && !n.oneOf && !(n.type === 'array' && n.items?.properties)) {
    const range = n.minimum !== undefined || n.maximum !== undefined ? ` (${n.minimum ?? ''}…${n.maximum ?? ''})` : '';
    out.push(`| \`${path}\` | ${typeOf(n)}${range} | ${def} | ${(n.description ?? '').replace(/\|/g, '\\|')} |`);
  }
  if (n.properties) {
    for (const [k, child] of Object.entries(n.properties)) rows(child, path ? `${path}.${k}` : k, n.required?.includes(k) ?? false, out);
  }
  if (n.type === 'array' && n.items?.properties) rows(n.items, `${path}[]`, false, out);
  if (n.oneOf) {
    for (const v of n.oneOf) {
      const t = v.properties?.type?.const;
      out.push(`| \`${path}\` (type \`${String(t)}\`) | object | | ${v.properties?.type?.description ?? ''} |`);
      for (const [k, child] of Object.entries(v.properties ?? {})) {
        if (k !== 'type') rows(child, `${path}.${k}`, v.required?.includes(k) ?? false, out);
      }
    }
  }
}

export function configReference(): string {
  const out = ['| Key | Type | Default | Meaning |', '| --- | --- | --- | --- |'];
  rows(ConfigSchema as unknown as Node, '', false, out);
  return out.join('\n') + '\n';
}
