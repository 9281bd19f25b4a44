// Installing a model version from an archive: from a file or a stream, and every hostile archive
// refused with LS_ERR_MODEL_ARCHIVE naming the entry or the limit, leaving nothing behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync, createGzip } from 'node:zlib';
import { installArchive } from '../../src/models/archive.js';
import { isLinesightError } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';
import { makeVersion } from '../helpers/model-versions.js';
import { tarBlocks, tarOf } from '../helpers/tar-entries.js';

const MiB = 1024 * 1024;

async function refused(t: Parameters<typeof tempDir>[0], archive: Buffer | Readable, reason: RegExp, maxBytes = 8 * MiB) {
  const root = tempDir(t);
  const err = await installArchive(archive instanceof Readable ? archive : Readable.from([archive]), { root, maxBytes }).then(
    () => assert.fail('installed'),
    (e: unknown) => e,
  );
  assert.ok(isLinesightError(err, 'LS_ERR_MODEL_ARCHIVE'), String(err));
  assert.equal(err.status, 400);
  assert.match(err.message, reason);
  assert.deepEqual(readdirSync(root), [], 'nothing left in the models directory');
}

/** A valid manifest's bytes, for archives built entry by entry. */
const manifest = (t: Parameters<typeof tempDir>[0], version: string) => readFileSync(join(makeVersion(tempDir(t), version), 'manifest.json'));

test('a good archive installs from a file and from a stream; its staging directory is gone', async (t) => {
  const work = tempDir(t);
  makeVersion(work, '1.5.0');
  const file = join(work, 'v.tgz');
  execFileSync('tar', ['-czf', file, '-C', join(work, 'label-orientation'), '1.5.0']);
  const root = tempDir(t);
  const v = await installArchive(file, { root, maxBytes: 8 * MiB });
  assert.equal(v.manifest.version, '1.5.0');
  assert.equal(v.dir, join(root, 'label-orientation', '1.5.0'));
  makeVersion(work, '1.6.0');
  const plain = execFileSync('tar', ['-cf', '-', '-C', join(work, 'label-orientation'), '1.6.0']);
  const w = await installArchive(Readable.from([plain.subarray(0, 1), plain.subarray(1)]), { root, maxBytes: 8 * MiB });
  assert.equal(w.manifest.version, '1.6.0');
  assert.deepEqual(readdirSync(root), ['label-orientation']);
});

test('entries other than plain files and directories, absolute paths and ".." are refused, naming the entry', async (t) => {
  const m = manifest(t, '2.0.0');
  const file = (path: string) => ({ path, body: m });
  await refused(t, tarOf([file('v/manifest.json'), { path: 'v/passwd', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /v\/passwd: SymbolicLink entries are not allowed/);
  await refused(t, tarOf([file('v/manifest.json'), { path: 'v/model.onnx', type: 'Link', linkpath: '/etc/shadow' }]), /v\/model\.onnx: Link entries are not allowed/);
  await refused(t, tarOf([{ path: 'v/tty', type: 'CharacterDevice' }]), /v\/tty: CharacterDevice entries are not allowed/);
  await refused(t, tarOf([{ path: 'v/fifo', type: 'FIFO' }]), /v\/fifo: FIFO entries are not allowed/);
  await refused(t, gzipSync(tarOf([file('/etc/cron.d/evil')])), /\/etc\/cron\.d\/evil: absolute paths are not allowed/);
  await refused(t, tarOf([file('v/../../escape.txt')]), /v\/\.\.\/\.\.\/escape\.txt: "\.\." is not allowed/);
});

test('a gzip bomb is refused at the limit, from the entry header, before it is unpacked', async (t) => {
  // 1 GiB of zeros in one entry: about 1 MiB compressed.
  const gz = createGzip({ level: 9 });
  const bomb = Readable.from(tarBlocks([{ path: 'v/manifest.json', body: manifest(t, '3.0.0') }, { path: 'v/zeros.bin', size: 1024 * MiB }])).pipe(gz);
  await refused(t, bomb, /v\/zeros\.bin: unpacked size exceeds 8388608 bytes \(models\.maxUploadMB\)/);
  // Stopped at the header: far less than 1 GiB was ever inflated (which takes seconds).
  assert.ok(gz.bytesWritten < 64 * MiB, `${gz.bytesWritten} bytes were compressed before the refusal`);
  // Many entries under the limit each, over it together: refused at the entry that passes it.
  const many = Array.from({ length: 40 }, (_, i) => ({ path: `v/part-${i}.bin`, size: MiB }));
  await refused(t, gzipSync(tarOf(many)), /v\/part-8\.bin: unpacked size exceeds 8388608 bytes/);
});

test('an archive whose decompressed stream outgrows the limit, or that hides another compressed stream, is refused', async (t) => {
  // A tiny valid tar followed by 64 MiB of zeros (which tar would keep in one growing buffer).
  const padded = Readable.from(tarBlocks([{ path: 'v/manifest.json', body: manifest(t, '4.0.0') }], 64 * MiB)).pipe(createGzip({ level: 9 }));
  await refused(t, padded, /more than 1048576 bytes after the end of the tar archive/, MiB);
  // Pax headers are not files, so only the stream count sees them: 20 of 900 KiB each.
  const pax = Array.from({ length: 20 }, (_, i) => ({ path: `v/PaxHeader-${i}`, type: 'ExtendedHeader' as const, body: Buffer.alloc(900 * 1024, 0x0a) }));
  await refused(t, gzipSync(tarOf(pax)), /unpacks to more than \d+ bytes of tar stream \(models\.maxUploadMB plus headers\)/, MiB);
  await refused(t, gzipSync(gzipSync(tarOf([{ path: 'v/manifest.json', body: manifest(t, '4.0.1') }]))), /compressed stream inside the gzip/);
  await refused(t, Buffer.from('definitely not a tarball, just some text that is long enough'.repeat(20)), /not a readable tar\/tar\.gz archive/);
});

test('an archive file larger than the limit is refused before it is read', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'big.tar');
  writeFileSync(file, Buffer.alloc(2 * MiB));
  const root = tempDir(t);
  await assert.rejects(installArchive(file, { root, maxBytes: MiB }), (e: unknown) => isLinesightError(e, 'LS_ERR_MODEL_ARCHIVE') && /archive is 2097152 bytes, the limit is 1048576/.test(e.message));
  assert.deepEqual(readdirSync(root), []);
});
