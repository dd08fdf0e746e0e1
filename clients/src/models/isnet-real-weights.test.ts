import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadModel, removeBackground } from '@cutout/predict';
import { NPM_ISNET, storedModelPath } from '@cutout/predict/models';
import { pullModel, type Console } from './commands.js';
import { NpmFetchError, fetchIsnetPackage } from './from-npm.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
/** The npm package is cached here between runs (never in the repository, never a dependency). */
const CACHE = join(homedir(), '.cache', 'cutout');

function collector(): Console & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

/**
 * The one check against real weights: IS-Net from @imgly/background-removal-data (the network of
 * rembg's isnet-general-use.onnx) cuts anime-girl-1 as rembg did. Needs npm to reach its registry
 * once (136 MB); skips with the reason otherwise.
 */
test('isnet-general-use with real IS-Net weights reproduces rembg\'s own mask (mean |Δalpha| ≤ 0.5)', async (t) => {
  try {
    await fetchIsnetPackage(CACHE);
  } catch (error) {
    if (!(error instanceof NpmFetchError)) throw error;
    t.skip(`${NPM_ISNET.packageName}@${NPM_ISNET.version} could not be fetched (${error.message}); the real-weights check did not run`);
    return;
  }
  const modelsDir = mkdtempSync(join(tmpdir(), 'cutout-isnet-'));
  try {
    // Without --accept-license: the licence is printed and nothing is written.
    const refused = collector();
    assert.equal(await pullModel(modelsDir, { preset: 'isnet-general-use', fromNpm: true, cacheDir: CACHE }, refused), 1);
    assert.match(refused.errors.join('\n'), /licensed AGPL-3\.0[\s\S]*GNU Affero General Public License[\s\S]*--accept-license agpl-3\.0/);
    assert.equal(existsSync(storedModelPath(modelsDir, 'isnet-general-use')), false);

    const accepted = collector();
    assert.equal(await pullModel(modelsDir, { preset: 'isnet-general-use', fromNpm: true, acceptLicense: 'agpl-3.0', cacheDir: CACHE }, accepted), 0);

    // MODEL=isnet-general-use alone, from the store, accepted by its npm checksum.
    const model = await loadModel('isnet-general-use', { modelsDir, intraOpThreads: 2 });
    try {
      assert.equal(model.matched?.hex, NPM_ISNET.sha256);
      const photo = readFileSync(new URL('images/anime-girl-1.jpg', FIXTURES));
      const result = await removeBackground(photo, model, { maxImagePixels: 50_000_000 });
      const alpha = await sharp(result.bytes).extractChannel(3).raw().toBuffer();
      const reference = await sharp(readFileSync(new URL('reference/anime-girl-1.isnet-general-use.png', FIXTURES))).extractChannel(3).raw().toBuffer();
      assert.equal(alpha.length, reference.length);
      let sum = 0;
      for (let i = 0; i < alpha.length; i++) sum += Math.abs(alpha[i]! - reference[i]!);
      const mean = sum / alpha.length;
      t.diagnostic(`mean |Δalpha| against rembg's isnet-general-use result: ${mean.toFixed(4)} levels`);
      assert.ok(mean <= 0.5, `mean absolute alpha difference ${mean.toFixed(3)}`);
    } finally {
      await model.close();
    }
  } finally {
    rmSync(modelsDir, { recursive: true, force: true });
  }
});
