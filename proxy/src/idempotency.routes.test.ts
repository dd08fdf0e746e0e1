/**
 * One Idempotency-Key names one thing: a job (POST /v1/jobs) or a group (POST /v1/groups). The
 * same key sent to the other route, even with the very same image and options, is another
 * request: 422 IDEMPOTENCY_KEY_REUSED, never a repeat that answers the other kind's id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, type Reply, type RunningProxy, useProxyTestbed } from './app-harness.js';

const bed = useProxyTestbed({ width: 4, height: 4, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 1 } });

type Body = { id?: string; error?: { code: string; message: string } };

const post = (p: RunningProxy, path: string, key: string, body: unknown): Promise<Reply<Body>> =>
  call<Body>(`${p.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });

const asJob = () => ({ image: bed.png.toString('base64'), format: 'webp' });
const asGroup = () => ({ images: [bed.png.toString('base64')], format: 'webp' });

test('a key used on /v1/jobs and then on /v1/groups with the same image and options is 422 IDEMPOTENCY_KEY_REUSED', async () => {
  const p = await bed.start({ keyPrefix: 'idem-job-first:' });
  const key = randomUUID();
  const job = await post(p, '/v1/jobs', key, asJob());
  assert.equal(job.status, 202, JSON.stringify(job.body));
  const group = await post(p, '/v1/groups', key, asGroup());
  assert.deepEqual([group.status, group.body.error?.code], [422, 'IDEMPOTENCY_KEY_REUSED'], JSON.stringify(group.body));
  // The key still answers its own route as before.
  const again = await post(p, '/v1/jobs', key, asJob());
  assert.deepEqual([again.status, again.body.id, again.headers.get('idempotent-replayed')], [202, job.body.id, 'true']);
});

test('a key used on /v1/groups and then on /v1/jobs with the same image and options is 422 IDEMPOTENCY_KEY_REUSED', async () => {
  const p = await bed.start({ keyPrefix: 'idem-group-first:' });
  const key = randomUUID();
  const group = await post(p, '/v1/groups', key, asGroup());
  assert.equal(group.status, 202, JSON.stringify(group.body));
  const job = await post(p, '/v1/jobs', key, asJob());
  assert.deepEqual([job.status, job.body.error?.code], [422, 'IDEMPOTENCY_KEY_REUSED'], JSON.stringify(job.body));
  const again = await post(p, '/v1/groups', key, asGroup());
  assert.deepEqual([again.status, again.body.id], [202, group.body.id]);
});
