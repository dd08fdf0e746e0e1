import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBorderModel } from './border-model.js';
import { CATALOGUE, type CatalogueEntry } from './catalogue.js';
import { loadModel } from './model-loader.js';
import { ModelConfigError, parseModelSpec } from './model-spec.js';
import { checkStoredModel, digestFile, storedModelPath } from './model-store.js';
import { MODEL_PRESETS } from './presets.js';

let modelsDir: string;
let bytes: Buffer;
let sha256: string;

before(() => {
  modelsDir = mkdtempSync(join(tmpdir(), 'cutout-store-'));
  // Any valid ONNX file stands in for u2net.onnx; the store only cares that it is the file the catalogue names.
  bytes = Buffer.from(buildBorderModel({ size: 64, strip: 2 }));
  sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(storedModelPath(modelsDir, 'u2net'), bytes);
});
after(() => rmSync(modelsDir, { recursive: true, force: true }));

const catalogueWith = (hex: string) => (preset: string): CatalogueEntry | undefined =>
  preset === 'u2net' ? { ...CATALOGUE.u2net!, checksums: [{ algorithm: 'sha256', hex }] } : undefined;

test('every downloadable preset has a catalogue entry with a rembg release URL and a checksum, and no built-in one has', () => {
  for (const [name, preset] of Object.entries(MODEL_PRESETS)) {
    const entry = CATALOGUE[name];
    if (name.startsWith('cutout-')) {
      assert.equal(entry, undefined, name);
      continue;
    }
    assert.ok(entry, `${name} has no catalogue entry`);
    assert.equal(entry.preset, preset.name);
    assert.match(entry.url, /^https:\/\/github\.com\/danielgatis\/rembg\/releases\/download\/v0\.0\.0\/[\w.-]+\.onnx$/);
    const main = entry.checksums[0]!;
    assert.match(main.hex, main.algorithm === 'md5' ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{64}$/);
  }
});

test('digestFile gives the md5 and sha256 node:crypto gives for the whole file', async () => {
  const digest = await digestFile(storedModelPath(modelsDir, 'u2net'));
  assert.equal(digest.size, bytes.length);
  assert.equal(digest.sha256, sha256);
  assert.equal(digest.md5, createHash('md5').update(bytes).digest('hex'));
});

test('checkStoredModel: missing, ok (and which checksum matched), mismatch', async () => {
  assert.equal((await checkStoredModel(modelsDir, { preset: 'u2netp', checksums: [] })).state, 'missing');
  const ok = await checkStoredModel(modelsDir, { preset: 'u2net', checksums: [{ algorithm: 'md5', hex: '0'.repeat(32) }, { algorithm: 'sha256', hex: sha256.toUpperCase() }] });
  assert.equal(ok.state, 'ok');
  assert.equal(ok.matched?.algorithm, 'sha256');
  assert.equal((await checkStoredModel(modelsDir, { preset: 'u2net', checksums: [CATALOGUE.u2net!.checksums[0]!] })).state, 'mismatch');
});

test('MODEL=u2net alone loads <CUTOUT_MODELS_DIR>/u2net.onnx once its checksum matches, with the u2net preset', async () => {
  const model = await loadModel('u2net', { modelsDir, catalogue: catalogueWith(sha256) });
  try {
    assert.equal(model.source, 'store');
    assert.equal(model.preset.name, 'u2net');
    assert.equal(model.path, storedModelPath(modelsDir, 'u2net'));
    assert.equal(model.digest.sha256, sha256);
    assert.equal(model.matched?.hex, sha256);
  } finally {
    await model.close();
  }
});

test('a named model whose checksum does not match is refused before onnxruntime sees it, with the way to fix it', async () => {
  await assert.rejects(loadModel('u2net', { modelsDir, catalogue: catalogueWith('f'.repeat(64)) }), (error: unknown) => {
    assert.ok(error instanceof ModelConfigError);
    assert.match(error.message, /is corrupt or not the published file/);
    assert.match(error.message, new RegExp(`sha256 ${sha256}`));
    assert.match(error.message, /npx cutout-models pull u2net/);
    return true;
  });
  // rembg's real checksum against our stand-in: the same refusal, without any override.
  await assert.rejects(loadModel('u2net', { modelsDir }), /corrupt or not the published file.*md5 60024c5c889badc19c04ad937298a77b/);
});

test('MODEL=<preset>:<path> and a bare path skip the store and its checksums', async () => {
  const other = join(modelsDir, 'elsewhere');
  mkdirSync(other, { recursive: true });
  const file = join(other, 'mine.onnx');
  writeFileSync(file, bytes);
  assert.equal(parseModelSpec(`u2net:${file}`, { modelsDir: '/nonexistent' }).source, 'file');
  const model = await loadModel(file, { modelsDir: '/nonexistent' });
  try {
    assert.equal(model.source, 'file');
    assert.equal(model.preset.name, 'cutout-border');
    assert.equal(model.matched, undefined);
  } finally {
    await model.close();
  }
});

test('/metadata of a named model states its origin, licence, URL and the checksum it matched', async () => {
  const { describeModel } = await import('../metadata.js');
  const model = await loadModel('u2net', { modelsDir, catalogue: catalogueWith(sha256) });
  try {
    const body = describeModel(model, { maxImageBytes: 1, maxImagePixels: 1 }) as { model: Record<string, unknown> };
    assert.equal(body.model.source, 'store');
    assert.equal(body.model.licence, 'Apache-2.0');
    assert.equal(body.model.url, 'https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net.onnx');
    assert.equal(body.model.rembg_session, 'rembg/sessions/u2net.py');
    assert.deepEqual((body.model.checksum as Record<string, unknown>).sha256, sha256);
    assert.deepEqual((body.model.matched as Record<string, unknown>).hex, sha256);
  } finally {
    await model.close();
  }
});
