import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { IMAGE_PIECE_BYTES, ImageChangedError, readJobWithImagePieces } from '@cutout/shared';
import { postJson, useProxyTestbed } from './app-harness.js';
import { toJobView } from './job-views.js';

const bed = useProxyTestbed({ width: 4, height: 4, channels: 3, background: '#000000' });

/** A PNG of noise, so its base64 is several pieces long. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

test('get_job of a job whose images are several pieces long gives exactly JSON.stringify of its view, GET and HEAD', async () => {
  const p = await bed.start({ keyPrefix: 'pieces:' });
  const input = await noisePng(900, 800);
  assert.ok(input.toString('base64').length > 2 * IMAGE_PIECE_BYTES, 'the input spans more than two pieces');
  const started = await postJson<{ job_id: string }>(`${p.url}/start_job`, JSON.stringify({ image: input.toString('base64') }));
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = started.body.job_id;
  const expected = async () => Buffer.from(JSON.stringify(toJobView((await p.jobs.get(id, { withImages: true }))!)));
  const queued = await fetch(`${p.url}/get_job/${id}`);
  const queuedBody = Buffer.from(await queued.arrayBuffer());
  assert.equal(queued.headers.get('content-length'), String(queuedBody.length));
  const want = await expected();
  if (!queuedBody.equals(want)) {
    let i = 0;
    while (i < want.length && queuedBody[i] === want[i]) i++;
    assert.fail(`QUEUED: differs at byte ${i} of ${want.length}/${queuedBody.length}: got ${JSON.stringify(queuedBody.subarray(Math.max(0, i - 40), i + 40).toString())} want ${JSON.stringify(want.subarray(Math.max(0, i - 40), i + 40).toString())}`);
  }
  const { job } = await p.jobs.take('test-worker');
  // An output of exactly one piece and a bit, so the last piece is short.
  const output = randomBytes(Math.ceil(((IMAGE_PIECE_BYTES + 5) * 3) / 4)).toString('base64');
  assert.equal(await p.jobs.complete(id, job!.token, output), true);
  const done = await fetch(`${p.url}/get_job/${id}`);
  const doneBody = Buffer.from(await done.arrayBuffer());
  assert.ok(doneBody.equals(await expected()), 'SUCCEEDED: the same bytes as JSON.stringify');
  const parsed = JSON.parse(doneBody.toString()) as { status: string; img_out_base64: string; img_in_base64: string };
  assert.deepEqual([parsed.status, parsed.img_out_base64 === output, parsed.img_in_base64 === input.toString('base64')], ['ok', true, true]);
  const head = await fetch(`${p.url}/get_job/${id}`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(doneBody.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('a key that goes away between pieces is an ImageChangedError, never a short image', async () => {
  const prefix = 'gone:';
  const keys = { record: `${prefix}j_job`, imageIn: `${prefix}j_image_in`, imageOut: `${prefix}j_image_out` };
  await bed.redis.hSet(keys.record, { status: 'QUEUED', created_at: String(Date.now()), attempts: '0', priority: 'normal' });
  await bed.redis.set(keys.imageIn, 'A'.repeat(10_000));
  const job = await readJobWithImagePieces(bed.redis, 'j', keys, 4096);
  assert.ok(job && job.imageIn && job.imageOut === null);
  assert.deepEqual([job.imageIn.length, job.imageIn.first.length], [10_000, 4096]);
  const rest = job.imageIn.rest();
  assert.equal((await rest.next()).value?.length, 4096);
  await bed.redis.del(keys.imageIn);
  await assert.rejects(rest.next(), ImageChangedError);
});

/** How many STRLEN commands the server has run since `CONFIG RESETSTAT`. */
async function strlenCalls(): Promise<number> {
  const stats = await bed.redis.info('commandstats');
  return Number(/cmdstat_strlen:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

test('an image shorter than a piece is read with the record alone; one that fills its first piece gets its length asked', async () => {
  const prefix = 'len:';
  const keys = { record: `${prefix}j_job`, imageIn: `${prefix}j_image_in`, imageOut: `${prefix}j_image_out` };
  await bed.redis.hSet(keys.record, { status: 'SUCCEEDED', created_at: String(Date.now()), attempts: '1', priority: 'normal' });
  await bed.redis.set(keys.imageIn, 'B'.repeat(4095));
  await bed.redis.set(keys.imageOut, 'C'.repeat(4096));
  await bed.redis.configResetStat();
  const small = await readJobWithImagePieces(bed.redis, 'j', { ...keys, imageOut: `${prefix}none` }, 4096);
  assert.deepEqual([small?.imageIn?.length, small?.imageIn?.first.length, small?.imageOut], [4095, 4095, null]);
  assert.equal(await strlenCalls(), 0, 'a short first piece is the whole image');
  const full = await readJobWithImagePieces(bed.redis, 'j', keys, 4096);
  assert.deepEqual([full?.imageOut?.length, full?.imageOut?.first.length], [4096, 4096]);
  assert.equal(await strlenCalls(), 1, 'a full first piece may have more after it');
  const rest = [];
  for await (const piece of full!.imageOut!.rest()) rest.push(piece);
  assert.equal(rest.length, 0, 'exactly one piece long: nothing follows');
});
