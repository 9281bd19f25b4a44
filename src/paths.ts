// Where the installed package lives, so the bundled models and sample parts are found
// whether Linesight runs from a checkout, from dist/, or from a global install.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the Linesight package root above ${start}`);
    dir = up;
  }
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const bundledModelsDir = join(packageRoot, 'models');
export const bundledSamplesDir = join(packageRoot, 'samples');
/** Generated, git-ignored data: reference models and bench frames (`linesight bench`). */
export const cacheDir = join(packageRoot, '.cache');
