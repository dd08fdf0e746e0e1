// Per-key settings and fair share (CONTRACT §13) on the real stack, with the keys read from
// API_KEYS_FILE: a key's priorities= (403 PRIORITY_NOT_ALLOWED on every API that queues a job,
// also for the default priority) and max_queued= (instead of API_KEY_MAX_QUEUED); and with one
// batch worker, one key's backlog puts at most one of its jobs before another key's new job.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { smallImages } from '../support/chaos/load.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in-process-proxy.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const PREFIX = 'it-key-settings:';
const KEYS = {
  heavy: 'heavy-key-5d4c3b2a19087f6e',
  light: 'light-key-0a1b2c3d4e5f6a7b',
  carol: 'carol-key-9f8e7d6c5b4a3928',
  dave: 'dave-key-2468ace013579bdf',
} as const;
type Name = keyof typeof KEYS;
const as = (name: Name) => ({ 'x-api-token': KEYS[name] });

let stack: TestStack;
let idle: InProcessProxy;
let redis: ReturnType<typeof createClient>;
let png: Buffer;
const dir = mkdtempSync(join(tmpdir(), 'cutout-key-settings-'));

before(async () => {
  const file = join(dir, 'keys');
  writeFileSync(file, [`heavy ${KEYS.heavy} max_queued=0`, `light ${KEYS.light}`, `carol ${KEYS.carol} priorities=low`, `dave ${KEYS.dave} max_queued=1 priorities=high,normal`, ''].join('\n'), { mode: 0o600 });
  // One worker: the order jobs start in is the order they were taken.
  stack = await startTestStack({ keyPrefix: PREFIX, env: { API_KEYS: '', API_KEYS_FILE: file, API_KEY_MAX_QUEUED: '3', BATCH_CONCURRENCY: '1' } });
  // The same keys on a proxy whose queue no worker serves, so limits are reached and nothing runs.
  idle = await startInProcessProxy({
    redisUrl: stack.redisUrl,
    keyPrefix: 'it-key-settings-idle:',
    apiKeys: [
      { name: 'carol', key: KEYS.carol, priorities: ['low'] },
      { name: 'dave', key: KEYS.dave, maxQueued: 1, priorities: ['high', 'normal'] },
      { name: 'heavy', key: KEYS.heavy },
    ],
    maxQueuedPerKey: 3,
    syncTimeoutMs: 300,
  });
  redis = createClient({ url: stack.redisUrl });
  await redis.connect();
  png = Buffer.from((await smallImages(1))[0]!, 'base64');
});

after(async () => {
  await redis?.close();
  await idle?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: RequestInit['body']): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Answer['body']) : {} };
}

const json = (value: unknown) => JSON.stringify(value);
const JSON_TYPE = { 'content-type': 'application/json' };

function form(fields: Record<string, string>): FormData {
  const data = new FormData();
  data.append('file', new Blob([png], { type: 'image/png' }), 'a.png');
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  return data;
}

/** Every call that queues a job, asking for `priority` (undefined: the default). */
function submits(priority: string | undefined): Array<{ label: string; send: (base: string, headers: Record<string, string>) => Promise<Answer> }> {
  const image = png.toString('base64');
  const p: Record<string, string> = priority === undefined ? {} : { priority };
  const query = priority === undefined ? '' : `?priority=${priority}`;
  return [
    { label: 'POST /v1/jobs (JSON)', send: (b, h) => call(b, 'POST', '/v1/jobs', { ...h, ...JSON_TYPE }, json({ image, ...p })) },
    { label: 'POST /v1/jobs (multipart)', send: (b, h) => call(b, 'POST', '/v1/jobs', h, form(p)) },
    { label: 'POST /v1/jobs (raw)', send: (b, h) => call(b, 'POST', `/v1/jobs${query}`, { ...h, 'content-type': 'image/png' }, png) },
    { label: 'POST /v1/groups', send: (b, h) => call(b, 'POST', '/v1/groups', { ...h, ...JSON_TYPE }, json({ images: [image, image], ...p })) },
    { label: 'POST /predict', send: (b, h) => call(b, 'POST', '/predict', { ...h, ...JSON_TYPE }, json({ image, ...p })) },
    { label: 'POST /v1/remove', send: (b, h) => call(b, 'POST', `/v1/remove${query}`, { ...h, 'content-type': 'image/png' }, png) },
    { label: 'POST /api/remove', send: (b, h) => call(b, 'POST', '/api/remove', h, form(p)) },
    ...(priority === undefined ? [{ label: 'POST /start_job', send: (b: string, h: Record<string, string>) => call(b, 'POST', '/start_job', { ...h, ...JSON_TYPE }, json({ image })) }] : []),
  ];
}

async function submitted(prefix: string): Promise<number> {
  return Number((await redis.hGet(`${prefix}job_counts`, 'submitted')) ?? 0);
}

test("a key's priorities=: any other priority, the default included, is 403 PRIORITY_NOT_ALLOWED on every API, naming the allowed ones; nothing is queued", async () => {
  const before = await submitted('it-key-settings-idle:');
  for (const priority of ['high', 'normal', undefined]) {
    for (const { label, send } of submits(priority)) {
      const answer = await send(idle.url, as('carol'));
      assert.equal(answer.status, 403, `${label} priority=${priority}: ${json(answer.body)}`);
      assert.equal(answer.body.error?.code, 'PRIORITY_NOT_ALLOWED', label);
      assert.match(answer.body.error?.message ?? '', /only priority low.*priority=low/, label);
    }
  }
  // Vision answers per entry.
  const vision = await call(idle.url, 'POST', '/', { ...as('carol'), ...JSON_TYPE }, json({ requests: [{ image: { content: png.toString('base64') }, features: [{ priority: 'high' }] }] }));
  assert.equal(vision.status, 200);
  assert.equal((vision.body.responses as Array<{ error?: { code: string } }>)[0]?.error?.code, 'PRIORITY_NOT_ALLOWED');
  const dave = await submits('low')[0]!.send(idle.url, as('dave'));
  assert.equal(dave.status, 403);
  assert.match(dave.body.error?.message ?? '', /only priorities high, normal/);
  assert.equal(await submitted('it-key-settings-idle:'), before, 'nothing was queued');
});

test('on the real stack (API_KEYS_FILE): the allowed priority is queued and runs, another is refused', async () => {
  const refused = await submits(undefined)[2]!.send(stack.proxyUrl, as('carol'));
  assert.equal(refused.status, 403, json(refused.body));
  assert.equal(refused.body.error?.code, 'PRIORITY_NOT_ALLOWED');
  const accepted = await submits('low')[2]!.send(stack.proxyUrl, as('carol'));
  assert.equal(accepted.status, 202, json(accepted.body));
  const done = await call(stack.proxyUrl, 'GET', `/v1/jobs/${String(accepted.body.id)}?wait=20`, as('carol'));
  assert.deepEqual([done.body.status, (done.body.options as { priority: string }).priority], ['SUCCEEDED', 'low']);
});

test("a key's max_queued= replaces API_KEY_MAX_QUEUED for it alone: 429 KEY_QUEUE_FULL past it, other keys keep the deployment's limit", async () => {
  const raw = (name: Name) => submits(undefined)[2]!.send(idle.url, as(name));
  assert.equal((await raw('dave')).status, 202);
  const second = await raw('dave');
  assert.equal(second.status, 429, json(second.body));
  assert.equal(second.body.error?.code, 'KEY_QUEUE_FULL');
  assert.match(second.body.error?.message ?? '', /1 unfinished jobs/);
  const heavy = [await raw('heavy'), await raw('heavy'), await raw('heavy'), await raw('heavy')].map((a) => a.status);
  assert.deepEqual(heavy, [202, 202, 202, 429], 'API_KEY_MAX_QUEUED=3 for a key without its own');
});

test("fair share with a real worker: key heavy's group of 20 puts at most one of its jobs before key light's job", async (t) => {
  const image = png.toString('base64');
  const group = await call(stack.proxyUrl, 'POST', '/v1/groups', { ...as('heavy'), ...JSON_TYPE }, json({ images: Array.from({ length: 20 }, () => image) }));
  assert.equal(group.status, 202, json(group.body));
  const light = await call(stack.proxyUrl, 'POST', '/v1/jobs', { ...as('light'), 'content-type': 'image/png' }, png);
  assert.equal(light.status, 202, json(light.body));
  const lightId = String(light.body.id);
  const view = await call(stack.proxyUrl, 'GET', `/v1/groups/${String(group.body.id)}?wait=30`, as('heavy'));
  assert.equal(view.body.status, 'DONE', json(view.body));
  assert.equal((await call(stack.proxyUrl, 'GET', `/v1/jobs/${lightId}?wait=20`, as('light'))).body.status, 'SUCCEEDED');
  // Times on Redis's clock, from the records: which heavy jobs started after light's was queued and before it started.
  const times = async (id: string) => (await redis.hmGet(`${PREFIX}${id}_job`, ['created_at', 'started_at'])).map(Number) as [number, number];
  const [queuedAt, startedAt] = await times(lightId);
  const heavyStarts = await Promise.all((group.body.jobs as string[]).map(async (id) => (await times(id))[1]));
  const ahead = heavyStarts.filter((s) => s >= queuedAt && s < startedAt).length;
  t.diagnostic(`light's job waited ${startedAt - queuedAt} ms, behind ${ahead} of heavy's jobs (${heavyStarts.filter((s) => s < queuedAt).length} had started before it was queued)`);
  assert.ok(ahead <= 1, `light's job waited for ${ahead} of heavy's jobs (one worker)`);
});
