import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** test/fixtures/images, found from the compiled file in test/dist/support/. */
export const IMAGES_DIR = fileURLToPath(new URL('../../fixtures/images/', import.meta.url));

export interface Fixture {
  name: string;
  path: string;
  bytes: Buffer;
}

export function fixtureImages(): Fixture[] {
  return readdirSync(IMAGES_DIR)
    .filter((name) => /\.(jpe?g|png|webp)$/i.test(name))
    .sort()
    .map((name) => ({ name, path: join(IMAGES_DIR, name), bytes: readFileSync(join(IMAGES_DIR, name)) }));
}
