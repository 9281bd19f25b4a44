// The Grafana dashboard, the Prometheus config and the compose example against what Linesight
// really exports and what the image really uses: a renamed metric or a moved volume fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYamlText } from 'yaml';
import { createMetrics } from '../../src/api/metrics.js';
import { EventBus } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { repo, tempDir } from '../helpers/env.js';

const dashboard = JSON.parse(readFileSync(join(repo, 'deploy', 'grafana', 'linesight-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

async function exportedNames(): Promise<Set<string>> {
  const registry = createMetrics(new EventBus(silentLogger), {
    pool: () => ({ workers: 2, running: 0, queued: 0, crashed: 0, hung: 0, refused: 0, shed: 0 }),
    threads: () => [], estimates: () => [], triggers: () => [], publishers: () => [], models: () => [], cameras: () => [],
  });
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(m.name + s);
  }
  return names;
}

test('every metric the dashboard queries is one Linesight exports', async () => {
  const names = await exportedNames();
  assert.ok(exprs.length > 20);
  const unknown = exprs.flatMap(({ panel, expr }) => (expr.match(/\blinesight_[a-z0-9_]+/g) ?? []).filter((n) => !names.has(n)).map((n) => `${panel}: ${n}`));
  for (const v of dashboard.templating.list) for (const n of v.definition?.match(/\blinesight_[a-z0-9_]+/g) ?? []) if (!names.has(n)) unknown.push(`variable: ${n}`);
  assert.deepEqual(unknown, []);
});

test('every dashboard query is valid PromQL (promtool check rules, Grafana variables filled in)', (t) => {
  const rules = exprs.map(({ expr }, i) => ({
    record: `dashboard:query_${i}`,
    expr: expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$line', '.*').replaceAll('$camera', '.*'),
  }));
  const file = join(tempDir(t), 'rules.yml');
  writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('compose example: Prometheus scrapes the API port, the volumes are the image\'s directories', () => {
  const dir = join(repo, 'deploy', 'compose');
  const check = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const compose = parseYamlText(readFileSync(join(dir, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { build?: { dockerfile: string }; volumes?: string[]; ports?: string[] }> };
  const ls = compose.services.linesight!;
  assert.equal(ls.build?.dockerfile, 'Dockerfile.x86');
  const dockerfile = readFileSync(join(repo, 'Dockerfile.x86'), 'utf8');
  const env = (name: string) => new RegExp(`${name}=(\\S+)`).exec(dockerfile)?.[1];
  const targets = (ls.volumes ?? []).map((v) => v.split(':')[1]);
  assert.ok(targets.includes(env('LINESIGHT_MODELS_DIR')), `models volume at ${env('LINESIGHT_MODELS_DIR')}`);
  assert.ok(targets.includes(env('LINESIGHT_STATE_DIR')), `state volume at ${env('LINESIGHT_STATE_DIR')}`);
  const prom = parseYamlText(readFileSync(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
  assert.deepEqual(prom.scrape_configs[0]!.static_configs[0]!.targets, ['linesight:8080']);
  assert.ok(ls.ports?.includes('8080:8080'));
});
