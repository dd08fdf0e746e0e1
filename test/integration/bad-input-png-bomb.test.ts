/**
 * PNG decompression bombs (issue 18, item 2) against the real stack. The issue's file: a 256×256
 * header whose 1 MB of IDAT data inflates to 1 GiB; predict's RSS went from 155 MiB to 2.2 GiB
 * and its /health went unanswered for 9–13 s. Now the proxy refuses that file at upload (its data
 * is longer than 256×256 pixels could ever need), predict refuses it too when sent straight to
 * it, and a bomb packed densely enough to pass that length check is refused by predict's capped
 * inflate: the job ends FAILED with PNG_DATA_TOO_LARGE at its first attempt. Prints predict's
 * peak memory and the longest wait for its /health while the bombs are processed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { pngBomb } from '@cutout/shared/testing';
import { getJson, waitForJob } from '../support/http.js';
import { peakRssMiB, resetPeakRss, rssMiB, watchHealth } from '../support/service-watch.js';
import { startTestStack, type TestStack } from '../support/stack.js';

/** How much predict's resident memory may grow while it refuses the bombs (it grew 2 GiB before). */
const PEAK_GROWTH_LIMIT_MIB = 256;

let stack: TestStack;
/** The issue's file: caught by the length check, at the proxy and in predict. */
const issueFile = pngBomb({ width: 256, height: 256 }, 1024);
/** Dense bombs whose length passes: only inflating, capped, catches them. The JS path, then sharp's. */
const dense = [
  { name: '256×256 RGB, 207 KB inflating to 200 MiB', bytes: pngBomb({ width: 256, height: 256 }, 200) },
  { name: '2000×2000 RGB, 1 MB inflating to 1 GiB', bytes: pngBomb({ width: 2000, height: 2000 }, 1024) },
  { name: '2000×2000 RGBA interlaced, 1 MB inflating to 1 GiB', bytes: pngBomb({ width: 2000, height: 2000, colour: 6, interlaced: true }, 1024) },
];

before(async () => {
  stack = await startTestStack({ keyPrefix: 'it-png-bomb:' });
});

after(async () => {
  await stack?.stop();
});

interface Answer {
  status: number;
  body: { status?: string; job_id?: string; id?: string; error?: { code?: string; message?: string } };
}

async function post(url: string, body: string | Buffer | FormData, contentType?: string): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', body, ...(contentType ? { headers: { 'content-type': contentType } } : {}) });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Answer['body'] };
  } catch {
    return { status: res.status, body: { error: { message: text.slice(0, 200) } } };
  }
}

function assertRefused(answer: Answer, label: string): void {
  assert.equal(answer.status, 422, `${label}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error?.code, 'PNG_DATA_TOO_LARGE', label);
  assert.match(answer.body.error?.message ?? '', /re-export/, `${label}: the message says how to fix it`);
}

test('predict refuses every bomb with 422 PNG_DATA_TOO_LARGE on both lanes, with bounded memory, answering /health throughout', async (t) => {
  const pid = stack.pids.predict;
  const fromNow = resetPeakRss(pid);
  const startMiB = rssMiB(pid);
  const sends = [
    { name: "the issue's file, raw (batch's fast lane)", send: () => post(`${stack.predictUrl}/predict`, issueFile, 'application/octet-stream') },
    { name: "the issue's file, JSON (express)", send: () => post(`${stack.predictUrl}/predict`, JSON.stringify({ image: issueFile.toString('base64') }), 'application/json') },
    ...dense.map(({ name, bytes }) => ({ name: `${name}, raw`, send: () => post(`${stack.predictUrl}/predict`, bytes, 'image/png') })),
    { name: `${dense[1]!.name}, JSON`, send: () => post(`${stack.predictUrl}/predict`, JSON.stringify({ image: dense[1]!.bytes.toString('base64') }), 'application/json') },
  ];
  const failures: string[] = [];
  const answered: Array<{ name: string; answer: Answer }> = [];
  let answers = 0;
  for (const { name, send } of sends) {
    // /health is asked all the while, one request at a time: the longest wait for an answer is
    // the longest the bomb kept predict's event loop from serving anyone else.
    const health = watchHealth(`${stack.predictUrl}/health`);
    const started = performance.now();
    const answer = await send();
    const ms = Math.round(performance.now() - started);
    const report = await health.stop();
    answered.push({ name, answer });
    failures.push(...report.failures.map((f) => `${name}: ${f}`));
    answers += report.answers;
    t.diagnostic(`${name}: ${answer.status} ${answer.body.error?.code ?? ''} in ${ms} ms; /health answered ${report.answers} times meanwhile, longest wait ${report.longestGapMs} ms`);
  }
  const peakMiB = peakRssMiB(pid);
  t.diagnostic(`predict RSS ${Math.round(startMiB)} MiB before, peak ${Math.round(peakMiB)} MiB ${fromNow ? 'during the bombs' : 'since it started'}`);
  assert.deepEqual(failures, [], '/health always answered 200');
  assert.ok(answers >= sends.length, '/health answered while the bombs were processed');
  assert.ok(peakMiB - startMiB < PEAK_GROWTH_LIMIT_MIB, `predict's peak ${Math.round(peakMiB)} MiB is within ${PEAK_GROWTH_LIMIT_MIB} MiB of its ${Math.round(startMiB)} MiB before`);
  for (const { name, answer } of answered) assertRefused(answer, name);
});

test("through the proxy: the issue's file is refused at upload in every form; dense bombs end FAILED with the code at their first attempt; a good job beside them succeeds", async (t) => {
  const before = await getJson<{ jobs: { submitted: number } }>(`${stack.proxyUrl}/metadata`);
  const form = new FormData();
  form.append('file', new Blob([issueFile], { type: 'image/png' }), 'bomb.png');
  assertRefused(await post(`${stack.proxyUrl}/start_job`, JSON.stringify({ image: issueFile.toString('base64') }), 'application/json'), 'start_job JSON');
  assertRefused(await post(`${stack.proxyUrl}/v1/jobs`, issueFile, 'image/png'), '/v1/jobs raw');
  assertRefused(await post(`${stack.proxyUrl}/api/remove`, form), '/api/remove multipart');
  const counted = await getJson<{ jobs: { submitted: number } }>(`${stack.proxyUrl}/metadata`);
  assert.equal(counted.body.jobs.submitted, before.body.jobs.submitted, 'none of them was queued');

  const good = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366cc' } }).png().toBuffer();
  const submit = (bytes: Buffer) => post(`${stack.proxyUrl}/start_job`, JSON.stringify({ image: bytes.toString('base64') }), 'application/json');
  const health = watchHealth(`${stack.predictUrl}/health`);
  const started = performance.now();
  const bombJobs = await Promise.all(dense.map(({ bytes }) => submit(bytes)));
  const goodJob = await submit(good);
  for (const [i, job] of bombJobs.entries()) assert.equal(job.status, 200, `${dense[i]!.name}: accepted, the proxy cannot tell: ${JSON.stringify(job.body)}`);
  assert.equal(goodJob.status, 200);

  const goodDone = await waitForJob(stack.proxyUrl, goodJob.body.job_id!);
  const goodMs = Math.round(performance.now() - started);
  assert.equal(goodDone.job_status, 'SUCCEEDED', JSON.stringify(goodDone.error));
  for (const [i, job] of bombJobs.entries()) {
    const done = await waitForJob(stack.proxyUrl, job.body.job_id!);
    assert.equal(done.job_status, 'FAILED', dense[i]!.name);
    assert.equal(done.error?.code, 'PNG_DATA_TOO_LARGE', `${dense[i]!.name}: ${JSON.stringify(done.error)}`);
    assert.match(done.error?.message ?? '', /re-export/);
    const view = await getJson<{ attempts: number }>(`${stack.proxyUrl}/v1/jobs/${job.body.job_id}`);
    assert.equal(view.body.attempts, 1, `${dense[i]!.name}: failed at once, not retried`);
  }
  const report = await health.stop();
  t.diagnostic(`a good job sent with the bombs was done in ${goodMs} ms; predict's /health answered ${report.answers} times, longest wait ${report.longestGapMs} ms`);
  assert.deepEqual(report.failures, []);
  assert.equal((await getJson(`${stack.proxyUrl}/health`)).status, 200, 'the proxy is up');
});
