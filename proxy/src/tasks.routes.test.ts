/**
 * GET /tasks/{id} (seed 001's Celery-style API): an unknown id is 404 JOB_NOT_FOUND whose
 * message points to this API's own submit, POST /predict, not to §1's POST /start_job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, useProxyTestbed } from './app-harness.js';

const bed = useProxyTestbed({ width: 3, height: 3, channels: 3, background: { r: 1, g: 2, b: 3 } });

test('GET /tasks/{unknown id} is 404 JOB_NOT_FOUND telling the client to submit with POST /predict', async () => {
  const p = await bed.start({ keyPrefix: 'tasks-404:' });
  // A well-formed unknown id, a malformed one, and one that is not even valid percent-encoding.
  for (const id of [randomUUID(), 'not-a-task-id', '%E0%A4%A']) {
    const res = await call<{ status: string; error: { code: string; message: string } }>(`${p.url}/tasks/${id}`);
    assert.equal(res.status, 404, `${id}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, 'JOB_NOT_FOUND');
    assert.match(res.body.error.message, /submit the image again with POST \/predict$/, id);
    assert.doesNotMatch(res.body.error.message, /start_job/, id);
  }
  // §1's own 404 still points to §1's submit.
  const getJob = await call<{ error: { message: string } }>(`${p.url}/get_job/${randomUUID()}`);
  assert.match(getJob.body.error.message, /POST \/start_job$/);
});
