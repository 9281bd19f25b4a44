// Cloud topic templates: filled in per message, checked once at config load. AWS IoT Core
// refuses a topic with more than 7 slashes or over 256 bytes (and the connection with it), so a
// template that can produce one must stop the start, naming itself, not quarantine every message.
import type { Config } from './schema.js';

export type CloudTopicKind = 'verdict' | 'summary' | 'event';

/** Placeholders each kind may use; values never contain a slash (ids are `[A-Za-z0-9_.-]`). */
const placeholders: Record<CloudTopicKind, readonly string[]> = {
  verdict: ['line', 'station', 'verdict', 'thing'],
  summary: ['line', 'station', 'thing'],
  event: ['line', 'station', 'event', 'thing'],
};

export const MAX_TOPIC_SLASHES = 7;
export const MAX_TOPIC_BYTES = 256;
/** Longest value a placeholder can take: verdict and event words are short; ids are at most 64; AWS thing names 128. */
const longest: Record<string, number> = { line: 64, station: 64, verdict: 9, event: 13, thing: 128 };

export function fillTopic(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z]+)\}/g, (_, name: string) => values[name] ?? '');
}

/** Every problem of one template, as `<path>: got "<template>", <why>`. `thing`: the thing name when known. */
export function cloudTopicProblems(path: string, kind: CloudTopicKind, template: string, context: { line: string; stations: readonly string[]; thing?: string }): string[] {
  const problems: string[] = [];
  const got = `${path}: got "${template}"`;
  for (const [, name] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!placeholders[kind].includes(name!)) problems.push(`${got}, expected only the placeholders ${placeholders[kind].map((p) => `{${p}}`).join(', ')} (not {${name}})`);
  }
  const slashes = template.split('/').length - 1;
  if (slashes > MAX_TOPIC_SLASHES) problems.push(`${got}: ${slashes} slashes, expected at most ${MAX_TOPIC_SLASHES} (AWS IoT Core's limit)`);
  if (template.split('/').some((level) => level === '')) problems.push(`${got}, expected no empty topic level (a leading, trailing or double slash)`);
  for (const station of context.stations) {
    const filled = fillTopic(template, {
      line: context.line,
      station,
      verdict: 'x'.repeat(longest.verdict!),
      event: 'x'.repeat(longest.event!),
      thing: context.thing ?? 'x'.repeat(longest.thing!),
    });
    const bytes = Buffer.byteLength(filled);
    if (bytes > MAX_TOPIC_BYTES) {
      problems.push(`${got}: up to ${bytes} bytes for station ${station}, expected at most ${MAX_TOPIC_BYTES} (AWS IoT Core's limit)`);
      break;
    }
  }
  return problems;
}

/** The problems of every cloud topic template in a validated config. */
export function cloudConfigProblems(config: Config, thing?: string): string[] {
  const topics = config.cloud.send.topics;
  const context = { line: config.line, stations: config.stations.map((s) => s.id), ...(thing ? { thing } : {}) };
  return (Object.keys(placeholders) as CloudTopicKind[]).flatMap((kind) => cloudTopicProblems(`cloud.send.topics.${kind}`, kind, topics[kind], context));
}
