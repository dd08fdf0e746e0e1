// API keys (CONTRACT §6) on the real stack, read from API_KEYS_FILE: what needs a key, both
// headers, one key's jobs invisible to another on every API, counts-only /metadata, keys never
// in the log; and the per-key queue limit on the real app over a queue no worker takes from.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { fixtureImages, type Fixture } from '../support/fixtures.js';
import { startInProcessProxy } from '../support/in-process-proxy.js';
import { startTestStack, type TestStack } from '../support/stack.js';

const PREFIX = 'it-keys:';
const ALICE = 'alice-key-0f9e8d7c6b5a4321';
const BOB = 'bob-key-1a2b3c4d5e6f7a8b9c0d';
/** Long enough to be a key, but not one of them. */
const WRONG = 'wrong-key-9z8y7x6w5v4u3t2s';

let stack: TestStack;
let redis: ReturnType<typeof createClient>;
let car: Fixture;
const dir = mkdtempSync(join(tmpdir(), 'cutout-api-keys-'));

before(async () => {
  const file = join(dir, 'keys');
  writeFileSync(file, `# name key\nalice ${ALICE}\n\nbob   ${BOB}\n`, { mode: 0o600 });
  stack = await startTestStack({ keyPrefix: PREFIX, env: { API_KEYS: '', API_KEYS_FILE: file, API_KEY_MAX_QUEUED: '50', LOG_LEVEL: 'info' } });
  redis = createClient({ url: stack.redisUrl });
  await redis.connect();
  car = fixtureImages().find((f) => f.name === 'car-1.jpg')!;
});

after(async () => {
  await redis?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const asAlice = { 'x-api-token': ALICE };
const asBob = { authorization: `Bearer ${BOB}` };

interface Answer {
  status: number;
  headers: Headers;
  body: { status?: string; error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(method: string, path: string, headers: Record<string, string>, body?: RequestInit["body"]): Promise<Answer> {
  const res = await fetch(`${stack.proxyUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: Answer['body'];
  try {
    parsed = JSON.parse(text) as Answer['body'];
  } catch {
    parsed = { raw: text.length };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

async function queueState() {
  const [queued, submitted, inputs] = await Promise.all([redis.lLen(`${PREFIX}job_id`), redis.hGet(`${PREFIX}job_counts`, 'submitted'), redis.keys(`${PREFIX}*_image_in`)]);
  return { queued, submitted: Number(submitted ?? 0), inputs: inputs.length };
}

function multipart(file: Fixture): FormData {
  const form = new FormData();
  form.append('file', new Blob([file.bytes], { type: 'image/jpeg' }), file.name);
  return form;
}

/** Every call but /health and the docs, each with a body it would accept from a valid key. */
function protectedCalls(): Array<{ label: string; send: (headers: Record<string, string>) => Promise<Answer> }> {
  const id = randomUUID();
  const json = { 'content-type': 'application/json' };
  const image = car.bytes.toString('base64');
  return [
    { label: 'GET /metadata', send: (h) => call('GET', '/metadata', h) },
    { label: 'POST /start_job', send: (h) => call('POST', '/start_job', { ...h, ...json }, JSON.stringify({ image })) },
    { label: 'GET /get_job', send: (h) => call('GET', `/get_job/${id}`, h) },
    { label: 'POST /v1/jobs', send: (h) => call('POST', '/v1/jobs', h, multipart(car)) },
    { label: 'GET /v1/jobs/{id}', send: (h) => call('GET', `/v1/jobs/${id}`, h) },
    { label: 'GET /v1/jobs/{id}/result', send: (h) => call('GET', `/v1/jobs/${id}/result`, h) },
    { label: 'POST /v1/remove', send: (h) => call('POST', '/v1/remove', { ...h, 'content-type': 'image/jpeg' }, car.bytes) },
    { label: 'POST /api/remove', send: (h) => call('POST', '/api/remove', h, multipart(car)) },
    { label: 'POST /predict', send: (h) => call('POST', '/predict', { ...h, ...json }, JSON.stringify({ image })) },
    { label: 'GET /tasks/{id}', send: (h) => call('GET', `/tasks/${id}`, h) },
    { label: 'POST /', send: (h) => call('POST', '/', { ...h, ...json }, JSON.stringify({ requests: [{ image: { content: image } }] })) },
    { label: 'GET /nowhere', send: (h) => call('GET', '/nowhere', h) },
  ];
}

test('/health and the docs need no key', async () => {
  const health = await call('GET', '/health', {});
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  for (const path of ['/openapi.json', '/docs', '/docs/assets/swagger-ui-bundle.js']) {
    const res = await fetch(`${stack.proxyUrl}${path}`);
    await res.arrayBuffer();
    assert.equal(res.status, 200, path);
  }
});

test('without a key, with a wrong one or in a form not accepted: 401 UNAUTHENTICATED everywhere, nothing queued', async () => {
  const before = await queueState();
  const basic = `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}`;
  const attempts: Array<[string, Record<string, string>]> = [
    ['no key', {}],
    ['wrong X-Api-Token', { 'x-api-token': WRONG }],
    ['wrong Bearer', { authorization: `Bearer ${WRONG}` }],
    ["another key's prefix", { 'x-api-token': ALICE.slice(0, -1) }],
    ['a key with a character more', { 'x-api-token': `${ALICE}x` }],
    ['Basic auth', { authorization: basic }],
    ['a bare key in Authorization', { authorization: ALICE }],
  ];
  for (const { label, send } of protectedCalls()) {
    for (const [how, headers] of attempts) {
      const answer = await send(headers);
      assert.equal(answer.status, 401, `${label} ${how}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.status, 'ng');
      assert.equal(answer.body.error?.code, 'UNAUTHENTICATED', `${label} ${how}`);
      assert.match(answer.body.error?.message ?? '', /X-Api-Token/);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer', `${label} ${how}`);
    }
  }
  assert.deepEqual(await queueState(), before, 'nothing was queued or stored');
});

/** Waits, as alice or bob, for a job to end; returns its /v1 status. */
async function waitFor(id: string, headers: Record<string, string>): Promise<string> {
  for (let round = 0; round < 12; round++) {
    const answer = await call('GET', `/v1/jobs/${id}?wait=10`, headers);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const status = String(answer.body.status);
    if (status !== 'QUEUED' && status !== 'RUNNING') return status;
  }
  throw new Error(`job ${id} did not end`);
}

test("X-Api-Token and Authorization: Bearer both work; a job is visible only to its own key, on every API", async () => {
  // alice through §1 with X-Api-Token, bob through /v1 with Bearer (lower case "bearer" too).
  const started = await call('POST', '/start_job', { ...asAlice, 'content-type': 'application/json' }, JSON.stringify({ image: car.bytes.toString('base64') }));
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const aliceJob = String(started.body.job_id);
  const created = await call('POST', '/v1/jobs', { authorization: `bearer ${BOB}` }, multipart(car));
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const bobJob = String(created.body.id);
  const task = await call('POST', '/predict', { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' }, JSON.stringify({ image: car.bytes.toString('base64') }));
  assert.equal(task.status, 200);
  const aliceTask = String(task.body.task_id);

  assert.equal(await waitFor(aliceJob, asAlice), 'SUCCEEDED');
  assert.equal(await waitFor(bobJob, asBob), 'SUCCEEDED');
  assert.equal(await waitFor(aliceTask, { authorization: `Bearer ${ALICE}` }), 'SUCCEEDED');

  const unknown = await call('GET', `/v1/jobs/${randomUUID()}`, asAlice);
  assert.equal(unknown.status, 404);
  // The Celery-style API's 404 points to its own submit (POST /predict): compared with its own unknown id.
  const unknownTask = await call('GET', `/tasks/${randomUUID()}`, asAlice);
  assert.equal(unknownTask.status, 404);
  const reads = (id: string) => [`/get_job/${id}`, `/get_job/${id}?wait=5`, `/v1/jobs/${id}`, `/v1/jobs/${id}?wait=5`, `/v1/jobs/${id}/result`, `/v1/jobs/${id}/result?wait=5`, `/tasks/${id}`];
  for (const [id, owner, other] of [
    [aliceJob, asAlice, asBob],
    [aliceTask, asAlice, asBob],
    [bobJob, asBob, asAlice],
  ] as const) {
    for (const path of reads(id)) {
      const mine = await fetch(`${stack.proxyUrl}${path}`, { headers: owner });
      await mine.arrayBuffer();
      assert.equal(mine.status, 200, `the owner reads ${path}`);
      const theirs = await call('GET', path, other);
      assert.equal(theirs.status, 404, `another key reads ${path}: ${JSON.stringify(theirs.body)}`);
      assert.equal(theirs.body.status, 'ng');
      // Exactly what an id that names no job gets: nothing tells the job exists.
      assert.deepEqual(theirs.body.error, (path.startsWith('/tasks/') ? unknownTask : unknown).body.error, `${path}: the same 404 as an unknown id`);
    }
  }
  const view = await call('GET', `/get_job/${aliceJob}`, asAlice);
  assert.equal(view.body.status, 'ok');
  assert.equal(view.body.job_status, 'SUCCEEDED');
  const celery = await call('GET', `/tasks/${aliceTask}`, asAlice);
  assert.equal(celery.body.status, 'SUCCESS');
});

test('/metadata with keys on shows only counts: no model, limits or settings', async () => {
  const meta = await call('GET', '/metadata', asBob);
  assert.equal(meta.status, 200);
  const { status, ...groups } = meta.body;
  assert.equal(status, 'ok');
  for (const field of ['model', 'limits', 'job_ttl_seconds']) assert.ok(!Object.hasOwn(meta.body, field), `no ${field}`);
  assert.ok(Object.hasOwn(groups, 'queue') && Object.hasOwn(groups, 'jobs'), `queue depth and job counts: ${JSON.stringify(meta.body)}`);
  // Everything else is counts too: (nested) objects of whole numbers, nothing that describes the deployment.
  const leaves = (value: unknown): unknown[] => (value && typeof value === 'object' ? Object.values(value).flatMap(leaves) : [value]);
  for (const [name, group] of Object.entries(groups)) {
    const values = group && typeof group === 'object' ? leaves(group) : [group];
    assert.ok(values.length > 0 && values.every((v) => Number.isInteger(v)), `${name} holds only counts: ${JSON.stringify(group)}`);
  }
  assert.ok(((meta.body.jobs as Record<string, number>).submitted ?? 0) >= 3, 'the counts are the whole service, not one key');
});

test("the per-key limit (API_KEY_MAX_QUEUED=2, no worker): alice's third job is 429 KEY_QUEUE_FULL with Retry-After, bob still submits", async () => {
  const prefix = 'it-keys-idle:';
  const app = await startInProcessProxy({
    redisUrl: stack.redisUrl,
    keyPrefix: prefix,
    apiKeys: [
      { name: 'alice', key: ALICE },
      { name: 'bob', key: BOB },
    ],
    maxQueuedPerKey: 2,
  });
  try {
    const submit = async (headers: Record<string, string>) => {
      const res = await fetch(`${app.url}/v1/jobs`, { method: 'POST', headers: { ...headers, 'content-type': 'image/jpeg' }, body: car.bytes });
      return { status: res.status, headers: res.headers, body: (await res.json()) as { id?: string; error?: { code: string; message: string } } };
    };
    const first = await submit(asAlice);
    const second = await submit(asAlice);
    assert.deepEqual([first.status, second.status], [202, 202]);
    const third = await submit(asAlice);
    assert.equal(third.status, 429, JSON.stringify(third.body));
    assert.equal(third.body.error?.code, 'KEY_QUEUE_FULL');
    assert.match(third.body.error?.message ?? '', /API_KEY_MAX_QUEUED/);
    assert.ok(Number(third.headers.get('retry-after')) > 0, 'Retry-After');
    // The same limit on every API the key uses.
    const viaStartJob = await fetch(`${app.url}/start_job`, { method: 'POST', headers: { ...asAlice, 'content-type': 'application/json' }, body: JSON.stringify({ image: car.bytes.toString('base64') }) });
    assert.equal(viaStartJob.status, 429);
    assert.equal(((await viaStartJob.json()) as { error: { code: string } }).error.code, 'KEY_QUEUE_FULL');
    assert.deepEqual(await redis.lRange(`${prefix}job_id`, 0, -1), [second.body.id, first.body.id], "only alice's two jobs are queued");

    const bobs = await submit(asBob);
    assert.equal(bobs.status, 202, JSON.stringify(bobs.body));
    assert.equal(await redis.lLen(`${prefix}job_id`), 3);
    assert.equal(Number(await redis.hGet(`${prefix}job_counts`, 'submitted')), 3);

    const logText = JSON.stringify(app.logs);
    for (const key of [ALICE, BOB]) assert.ok(!logText.includes(key), 'no key in the log');
    assert.ok(app.logs.some((l) => l.level === 'warn' && /refused/.test(l.message) && l.api_key === 'alice'), 'the refusal is logged with the key\'s name');
  } finally {
    await app.close();
  }
});

test("the proxy's log never holds a key's text, and names the key on each request", async () => {
  // Access lines are written when each answer finishes; give the last ones time to reach the pipe.
  for (let i = 0; i < 100 && !stack.logs.some((l) => l.includes('"path":"/metadata"') && l.includes('"api_key":"bob"')); i++) await sleep(50);
  const proxyLines = stack.logs.filter((l) => l.includes('"service":"proxy"') || l.includes('proxy'));
  assert.ok(proxyLines.length > 10, `the proxy logged (${proxyLines.length} lines)`);
  for (const [name, key] of [['alice', ALICE], ['bob', BOB], ['wrong', WRONG]] as const) {
    const leaks = stack.logs.filter((l) => l.includes(key) || l.includes(key.slice(0, 12)));
    assert.deepEqual(leaks, [], `no log line holds ${name}'s key text`);
  }
  for (const name of ['alice', 'bob']) {
    assert.ok(stack.logs.some((l) => l.includes('"message":"request"') && l.includes(`"api_key":"${name}"`)), `an access line names ${name}`);
  }
  assert.ok(stack.logs.some((l) => l.includes('"message":"job queued"') && l.includes('"api_key":"alice"')), 'the queued job names its key');
  // The start line says keys are on and which (by name); no open-API warning.
  assert.ok(stack.logs.some((l) => l.includes('API keys on') && l.includes('alice') && l.includes('bob')));
  assert.ok(!stack.logs.some((l) => l.includes('the API is open')), 'no open-API warning');
  // Failed attempts are logged as 401s without what was presented.
  assert.ok(stack.logs.some((l) => l.includes('"status":401') && l.includes('"error_code":"UNAUTHENTICATED"')));
});
