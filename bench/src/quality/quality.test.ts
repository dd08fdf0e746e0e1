import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { contactSheet } from './contact-sheet.js';
import { compareAlpha, pairedPhotos } from './measure.js';
import { parseQualityArgs } from './args.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

test('compareAlpha: IoU of alpha ≥ 128 and mean absolute difference', () => {
  const a = Uint8Array.from([255, 255, 0, 0, 200, 127]);
  const b = Uint8Array.from([255, 0, 0, 255, 128, 0]);
  const { iou, meanAbsDiff } = compareAlpha(a, b);
  // Foreground in a: 0, 1, 4; in b: 0, 3, 4. Both: 0, 4; either: 0, 1, 3, 4.
  assert.equal(iou, 2 / 4);
  assert.equal(meanAbsDiff, (0 + 255 + 0 + 255 + 72 + 127) / 6);
  assert.throws(() => compareAlpha(a, b.subarray(1)), /masks of 6 and 5 pixels/);
});

test('the six test photos pair with their u2net references', () => {
  const pairs = pairedPhotos(`${FIXTURES}images`, `${FIXTURES}reference/u2net`);
  assert.deepEqual(pairs.map((p) => p.photo), ['animal-1', 'animal-3', 'anime-girl-1', 'car-1', 'girl-1', 'plants-1']);
});

test('the contact sheet holds one captioned row per photo, two cutouts wide', async () => {
  const cutout = await sharp({ create: { width: 60, height: 40, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
  const png = await contactSheet([{ caption: 'a', cutout, reference: cutout, width: 60, height: 40 }, { caption: 'b', cutout, reference: cutout, width: 60, height: 40 }], 'm');
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.height > 2 * 240 && meta.width >= 2 * 200, `${meta.width}×${meta.height}`);
});

test('bench:quality options', () => {
  assert.deepEqual(parseQualityArgs(['--model', 'u2net', '--runs', '1']), { model: 'u2net', runs: 1, threads: 1 });
  assert.equal(parseQualityArgs(['--help']), 'help');
  assert.throws(() => parseQualityArgs(['--runs', '0']), /whole number/);
  assert.throws(() => parseQualityArgs(['--nope', 'x']), /unknown option/);
});
