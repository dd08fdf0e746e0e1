import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@cutout/dev';

/** Where the bench looks for @imgly/background-removal-data (AGPL-3.0): fetched there, never a dependency, never committed. */
export const HEAVY_MODEL_CACHE = join(REPO_ROOT, 'bench', '.cache', 'imgly');

/**
 * Why the heavy-model comparison did not run. The IS-Net weights come in chunks listed in the
 * package's dist/resources.json; this bench does not assemble them yet, so it only says what is there.
 */
export function heavyModelStatus(): string {
  const resources = join(HEAVY_MODEL_CACHE, 'package', 'dist', 'resources.json');
  if (!existsSync(resources)) {
    return `skipped: @imgly/background-removal-data is not in ${HEAVY_MODEL_CACHE} (fetch it there with \`npm pack @imgly/background-removal-data --pack-destination ${HEAVY_MODEL_CACHE}\` and unpack it; it is AGPL-3.0, never a dependency, never committed)`;
  }
  return `skipped: the package is in ${HEAVY_MODEL_CACHE}, but this bench does not yet assemble /models/medium from its chunks`;
}
