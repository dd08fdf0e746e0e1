import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, postJson, type RunningProxy, useProxyTestbed } from './app-harness.js';
import type { JobView } from './job-views.js';

const bed = useProxyTestbed({ width: 5, height: 3, channels: 4, background: { r: 9, g: 99, b: 199, alpha: 1 } });

const proxy = (keyPrefix: string) => bed.start({ keyPrefix });

type JobReply = JobView;

async function submit(p: RunningProxy): Promise<string> {
  const res = await postJson<{ job_id: string }>(`${p.url}/start_job`, JSON.stringify({ image: `data:image/png;base64,${bed.png.toString('base64')}` }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.job_id;
}

const CONTRACT_KEYS = ['status', 'job_id', 'job_status', 'img_in_base64', 'img_out_base64'];

test('a job reads QUEUED, RUNNING, then SUCCEEDED with "ok" and the output once complete', async () => {
  const p = await proxy('life:');
  const id = await submit(p);

  const queued = await call<JobReply>(`${p.url}/get_job/${id}`);
  assert.equal(queued.status, 200);
  for (const key of CONTRACT_KEYS) assert.ok(key in queued.body, `has ${key}`);
  assert.equal(queued.body.status, 'ng', 'no result yet');
  assert.equal(queued.body.job_id, id);
  assert.equal(queued.body.job_status, 'QUEUED');
  assert.equal(queued.body.img_in_base64, bed.png.toString('base64'), 'the input as stored, without the data-URL prefix');
  assert.equal(queued.body.img_out_base64, null);
  assert.equal(queued.body.error, undefined);
  assert.ok(queued.body.created_at && !Number.isNaN(Date.parse(queued.body.created_at)));
  assert.equal(queued.body.started_at, null);
  assert.equal(queued.body.attempts, 0);

  const { job } = await p.jobs.take('test-worker');
  assert.equal(job?.id, id);
  assert.equal(job.imageBase64, bed.png.toString('base64'));
  const runningJob = await call<JobReply>(`${p.url}/get_job/${id}`);
  assert.equal(runningJob.body.job_status, 'RUNNING');
  assert.equal(runningJob.body.status, 'ng');
  assert.ok(runningJob.body.started_at);
  assert.equal(runningJob.body.attempts, 1);

  const output = Buffer.from('pretend this is a PNG').toString('base64');
  assert.equal(await p.jobs.complete(id, job.token, output), true);
  const done = await call<JobReply>(`${p.url}/get_job/${id}`);
  assert.equal(done.status, 200);
  assert.equal(done.body.status, 'ok');
  assert.equal(done.body.job_status, 'SUCCEEDED');
  assert.equal(done.body.img_out_base64, output);
  assert.equal(done.body.img_in_base64, bed.png.toString('base64'));
  assert.ok(done.body.finished_at && Date.parse(done.body.finished_at) >= Date.parse(done.body.created_at!));
  const access = p.logs.filter((l) => l.message === 'request' && String(l.path).startsWith('/get_job/'));
  assert.ok(access.length === 3 && access.every((l) => l.job_id === id), 'get_job access lines carry the job id');
});

test('a FAILED job answers "ng" with its error code and message', async () => {
  const p = await proxy('failed:');
  const id = await submit(p);
  const { job } = await p.jobs.take('test-worker');
  assert.equal(job?.id, id);
  assert.equal(await p.jobs.fail(id, job.token, 'IMAGE_DECODE_FAILED', 'predict could not decode the image'), true);
  const res = await call<JobReply>(`${p.url}/get_job/${id}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.status, 'ng');
  assert.equal(res.body.job_status, 'FAILED');
  assert.equal(res.body.img_out_base64, null);
  assert.deepEqual(res.body.error, { code: 'IMAGE_DECODE_FAILED', message: 'predict could not decode the image' });
});

test('an id in upper case finds the same job', async () => {
  const p = await proxy('upper:');
  const id = await submit(p);
  const res = await call<JobReply>(`${p.url}/get_job/${id.toUpperCase()}`);
  assert.equal(res.status, 200);
  assert.equal(res.body.job_id, id);
});

test('unknown, expired, malformed and very long ids answer 404 JOB_NOT_FOUND without echoing the id', async () => {
  const p = await proxy('missing:');
  const expired = await submit(p);
  await bed.redis.del([`missing:${expired}_job`, `missing:${expired}_image_in`]);
  const ids = [randomUUID(), expired, 'nope', '12345', randomUUID().replace(/-/g, ''), 'x'.repeat(5000), '..%2F..%2Fetc%2Fpasswd', '%00', randomUUID().replace(/^(.{14})4/, (_m, head: string) => `${head}1`)];
  for (const id of ids) {
    const res = await call<{ status: string; error: { code: string; message: string } }>(`${p.url}/get_job/${id}`);
    assert.equal(res.status, 404, id.slice(0, 40));
    assert.equal(res.body.status, 'ng');
    assert.equal(res.body.error.code, 'JOB_NOT_FOUND', id.slice(0, 40));
    assert.ok(res.body.error.message.length > 20);
    assert.ok(!res.body.error.message.includes('xxxxxxxxxx'), 'the id is not echoed back');
  }
});
