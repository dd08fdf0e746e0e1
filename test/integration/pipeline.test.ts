import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createClient } from 'redis';
import { fixtureImages, IMAGES_DIR } from '../support/fixtures.js';
import { getJson, postJson, waitForJob } from '../support/http.js';
import { startTestStack, REPO_ROOT, type TestStack } from '../support/stack.js';

let stack: TestStack;

before(async () => {
  stack = await startTestStack({ keyPrefix: 'it-pipeline:' });
});

after(async () => {
  await stack?.stop();
});

/** Width and height of an image as a viewer shows it: after its EXIF orientation. */
async function orientedSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  return swap ? { width: meta.height!, height: meta.width! } : { width: meta.width!, height: meta.height! };
}

/** Asserts a cutout: PNG, 8-bit RGBA, the input's size, some transparent and some opaque pixels. */
async function assertCutout(png: Buffer, input: Buffer, label: string): Promise<void> {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${label}: PNG signature`);
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png', label);
  assert.equal(meta.channels, 4, `${label}: RGBA`);
  assert.equal(meta.depth, 'uchar', `${label}: 8 bits`);
  assert.deepEqual({ width: meta.width, height: meta.height }, await orientedSize(input), `${label}: size`);
  const alpha = await sharp(png).extractChannel(3).raw().toBuffer();
  let transparent = 0;
  let opaque = 0;
  for (const a of alpha) {
    if (a < 32) transparent++;
    else if (a > 223) opaque++;
  }
  assert.ok(transparent > alpha.length * 0.02, `${label}: background made transparent (${transparent}/${alpha.length})`);
  assert.ok(opaque > alpha.length * 0.02, `${label}: foreground kept (${opaque}/${alpha.length})`);
}

test('health of each service answers as the contract says', async () => {
  const proxy = await getJson(`${stack.proxyUrl}/health`);
  assert.equal(proxy.status, 200);
  assert.deepEqual(proxy.body, { status: 'ok' });
  const predict = await getJson(`${stack.predictUrl}/health`);
  assert.equal(predict.status, 200);
  assert.deepEqual(predict.body, { health: 'ok' });
  const metadata = await getJson<{ status: string; model: unknown }>(`${stack.proxyUrl}/metadata`);
  assert.equal(metadata.status, 200);
  assert.equal(metadata.body.status, 'ok');
  assert.ok(metadata.body.model, 'metadata names the model');
  const predictMeta = await getJson(`${stack.predictUrl}/metadata`);
  assert.equal(predictMeta.status, 200);
});

test('every test photo goes through start_job and get_job to a transparent PNG', async () => {
  const images = fixtureImages();
  assert.equal(images.length, 6);
  const submitted = await Promise.all(
    images.map(async (image) => {
      const res = await postJson<{ status: string; job_id: string; job_status: string }>(`${stack.proxyUrl}/start_job`, {
        image: image.bytes.toString('base64'),
      });
      assert.equal(res.status, 200, `${image.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.status, 'ok');
      assert.equal(res.body.job_status, 'QUEUED');
      assert.match(res.body.job_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      return { image, jobId: res.body.job_id };
    }),
  );
  for (const { image, jobId } of submitted) {
    const job = await waitForJob(stack.proxyUrl, jobId);
    assert.equal(job.job_status, 'SUCCEEDED', `${image.name}: ${JSON.stringify(job.error)}`);
    assert.equal(job.status, 'ok');
    assert.equal(job.job_id, jobId);
    assert.equal(job.img_in_base64, image.bytes.toString('base64'));
    assert.ok(job.img_out_base64);
    await assertCutout(Buffer.from(job.img_out_base64, 'base64'), image.bytes, image.name);
  }
});

test('a data-URL upload works and the job keys sit in Redis under the contract names with a TTL', async () => {
  const image = fixtureImages().find((f) => f.name === 'car-1.jpg')!;
  const res = await postJson<{ job_id: string }>(`${stack.proxyUrl}/start_job`, {
    image: `data:image/jpeg;base64,${image.bytes.toString('base64')}`,
  });
  assert.equal(res.status, 200);
  const job = await waitForJob(stack.proxyUrl, res.body.job_id);
  assert.equal(job.status, 'ok');
  const redis = createClient({ url: stack.redisUrl });
  await redis.connect();
  try {
    for (const suffix of ['_image_in', '_image_out']) {
      const key = `it-pipeline:${res.body.job_id}${suffix}`;
      const ttl = await redis.ttl(key);
      assert.ok(ttl > 0, `${key} exists and expires (ttl ${ttl})`);
    }
    assert.equal(await redis.get(`it-pipeline:${res.body.job_id}_image_in`), image.bytes.toString('base64'));
    assert.equal(await redis.lLen('it-pipeline:job_id_processing'), 0, 'nothing left in processing');
  } finally {
    await redis.close();
  }
});

test('the cutout-request CLI writes one cutout per photo', async () => {
  const out = mkdtempSync(join(tmpdir(), 'cutout-cli-'));
  try {
    const port = new URL(stack.proxyUrl).port;
    const bin = join(REPO_ROOT, 'node_modules', '.bin', 'cutout-request');
    const args = ['--host', '127.0.0.1', '--port', port, '--in_images_dir', IMAGES_DIR, '--out_images_dir', out, '--poll_interval', '0.2'];
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(bin, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 0, result.output);
    const written = readdirSync(out).sort();
    const images = fixtureImages();
    assert.deepEqual(written, images.map((i) => i.name.replace(/\.[^.]+$/, '.png')).sort());
    for (const image of images) {
      const png = readFileSync(join(out, image.name.replace(/\.[^.]+$/, '.png')));
      await assertCutout(png, image.bytes, `cli ${image.name}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
