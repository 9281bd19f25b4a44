// `linesight models …`: sign and verify versions offline, list what is on disk, and activate or
// roll back on a running service through its HTTP API.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LinesightError } from './errors.js';
import { MANIFEST_FILE } from './models/manifest.js';
import { ModelRegistry, loadModelVersion, readManifest, sha256Hex } from './models/registry.js';
import { generateSigningKeys, loadPrivateKey, loadPublicKey, signManifest } from './models/signature.js';
import { bundledModelsDir } from './paths.js';

export const modelsUsage = `linesight models <command>

  list [--dir DIR]                                     versions on disk, checked (manifest, checksum, signature with --key)
  keygen --out PREFIX                                  write PREFIX.key (private, keep it safe) and PREFIX.pub
  sign --key PRIVATE.pem VERSION_DIR                   fill in the sha256 of the model file and every golden image,
                                                       then add an ed25519 signature to VERSION_DIR/manifest.json
  verify [--key PUBLIC.pem ...] VERSION_DIR            check manifest, checksums (model, golden images) and (with --key) the signature
  activate --station ID --model NAME@VERSION [--api URL] [--token T]   on a running service
  rollback --station ID [--api URL] [--token T]                        on a running service
`;

type Out = { out: (s: string) => void; err: (s: string) => void; env: Record<string, string | undefined> };

async function callApi(path: string, body: unknown, opts: { api: string; token: string | undefined }, io: Out): Promise<number> {
  const res = await fetch(new URL(path, opts.api), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  }).catch((err: Error) => {
    throw new LinesightError('LS_ERR_API_LISTEN', `cannot reach ${opts.api}: ${err.message}`, { args: [opts.api] });
  });
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try {
      const j = JSON.parse(text) as { error?: string; message?: string };
      msg = `${j.error}: ${j.message}`;
    } catch {
      /* not JSON: print as is */
    }
    io.err(`linesight: ${res.status} ${msg}\n`);
    return 1;
  }
  const r = JSON.parse(text) as { station: string; from: string | null; to: string; reason: string };
  io.out(`${r.station}: ${r.from ?? '-'} -> ${r.to} (${r.reason})\n`);
  return 0;
}

export async function modelsCommand(argv: string[], io: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      key: { type: 'string', multiple: true },
      out: { type: 'string' },
      station: { type: 'string' },
      model: { type: 'string' },
      api: { type: 'string', default: 'http://127.0.0.1:8080' },
      token: { type: 'string' },
    },
  });
  const [command, target] = positionals;
  const token = values.token ?? io.env.LINESIGHT_API_TOKEN;
  switch (command) {
    case 'keygen': {
      if (!values.out) break;
      const { publicPem, privatePem } = generateSigningKeys();
      writeFileSync(`${values.out}.key`, privatePem, { mode: 0o600 });
      writeFileSync(`${values.out}.pub`, publicPem);
      io.out(`wrote ${values.out}.key (private) and ${values.out}.pub (put it in models.publicKeys)\n`);
      return 0;
    }
    case 'sign': {
      if (!target || !values.key?.[0]) break;
      const dir = resolve(target);
      const privateKey = loadPrivateKey(values.key[0]);
      const file = join(dir, MANIFEST_FILE);
      const original = readFileSync(file, 'utf8');
      // Validates first, so file names are safe to read below.
      const { manifest: checked, raw } = await readManifest(dir);
      const manifest = raw as Record<string, unknown> & { golden?: Array<{ file: string; sha256?: string }> };
      // The signature covers the sha256 of everything the version is judged by: the model file and its golden images.
      const digest = (name: string, old: string | undefined) => {
        const actual = sha256Hex(readFileSync(join(dir, name)));
        if (actual !== old) io.out(`${name}: sha256 ${old ? `${old.slice(0, 12)}… -> ` : ''}${actual.slice(0, 12)}…\n`);
        return actual;
      };
      manifest.sha256 = digest(checked.file, manifest.sha256 as string | undefined);
      for (const g of manifest.golden ?? []) g.sha256 = digest(g.file, g.sha256);
      delete manifest.signature;
      writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
      try {
        // Check the version before vouching for it: a signature on a broken model helps nobody.
        await loadModelVersion(dir);
      } catch (err) {
        writeFileSync(file, original);
        throw err;
      }
      manifest.signature = signManifest(manifest, privateKey);
      writeFileSync(file, JSON.stringify(manifest, null, 2) + '\n');
      io.out(`signed ${manifest.name}@${manifest.version} (model and ${manifest.golden?.length ?? 0} golden image(s))\n`);
      return 0;
    }
    case 'verify': {
      if (!target) break;
      const keys = (values.key ?? []).map(loadPublicKey);
      const v = await loadModelVersion(resolve(target), { keys });
      io.out(`${v.manifest.name}@${v.manifest.version}: OK (sha256 ${v.manifest.sha256.slice(0, 12)}…${keys.length ? ', signature valid' : ''})\n`);
      for (const [i, g] of v.golden.entries()) {
        const pinned = v.manifest.golden?.[i]?.sha256 !== undefined;
        io.out(`  golden ${g.file} (${g.verdict}): sha256 ${g.sha256.slice(0, 12)}… ${pinned ? 'matches the manifest' : 'NOT in the manifest (unsigned; run `linesight models sign`)'}\n`);
      }
      return 0;
    }
    case 'list': {
      const keys = (values.key ?? []).map(loadPublicKey);
      const registry = new ModelRegistry(resolve(values.dir ?? bundledModelsDir), { keys });
      for (const name of await registry.names()) {
        for (const version of await registry.versions(name)) {
          try {
            const v = await registry.resolve(`${name}@${version}`);
            io.out(`${name}@${version}  ${v.manifest.format}  ${v.manifest.labels.join('/')}  OK\n`);
          } catch (err) {
            io.out(`${name}@${version}  REFUSED: ${(err as Error).message}\n`);
          }
        }
      }
      return 0;
    }
    case 'activate':
      if (!values.station || !values.model) break;
      return callApi(`/stations/${encodeURIComponent(values.station)}/model`, { model: values.model }, { api: values.api!, token }, io);
    case 'rollback':
      if (!values.station) break;
      return callApi(`/stations/${encodeURIComponent(values.station)}/model/rollback`, {}, { api: values.api!, token }, io);
  }
  io.err(modelsUsage);
  return 2;
}
