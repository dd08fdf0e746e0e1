import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postJson, useProxyTestbed } from './app-harness.js';

const bed = useProxyTestbed({ width: 6, height: 4, channels: 3, background: '#22aa44' });

interface Reply {
  status: string;
  job_id?: string;
  error?: { code: string; message: string };
}

const upload = () => JSON.stringify({ image: bed.png.toString('base64') });

test('past QUEUE_MAX_DEPTH an upload gets 429 QUEUE_FULL with Retry-After, nothing is stored, and it is logged', async () => {
  const p = await bed.start({ keyPrefix: 'full:', maxQueueDepth: 2 });
  for (let i = 0; i < 2; i++) assert.equal((await postJson<Reply>(`${p.url}/start_job`, upload())).status, 200);
  const keysBefore = (await bed.redis.keys('full:*')).sort();

  const refused = await postJson<Reply>(`${p.url}/start_job`, upload(), 'application/json');
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.equal(refused.body.status, 'ng');
  assert.equal(refused.body.error?.code, 'QUEUE_FULL');
  assert.match(refused.body.error!.message, /2 jobs.*QUEUE_MAX_DEPTH/);
  assert.equal(refused.headers.get('retry-after'), '5');
  assert.equal(refused.body.job_id, undefined, 'no id is handed out for a job that does not exist');

  assert.deepEqual((await bed.redis.keys('full:*')).sort(), keysBefore, 'no input, record or count was written');
  assert.equal(await bed.redis.lLen('full:job_id'), 2);
  assert.equal(await bed.redis.hGet('full:job_counts', 'submitted'), '2');
  const line = p.logs.find((l) => l.message === 'queue full: upload refused');
  assert.ok(line, 'a warn line for the refusal');
  assert.equal(line.level, 'warn');
  assert.equal(line.depth, 2);
  assert.equal(line.request_id, refused.headers.get('x-request-id'));
  assert.ok(p.logs.some((l) => l.message === 'request' && l.status === 429 && l.error_code === 'QUEUE_FULL'));
});

test('a full queue still judges bad input first, and accepts again once a job leaves the queue', async () => {
  const p = await bed.start({ keyPrefix: 'drain:', maxQueueDepth: 1, queueFullRetryAfterSeconds: 12 });
  assert.equal((await postJson<Reply>(`${p.url}/start_job`, upload())).status, 200);
  const full = await postJson<Reply>(`${p.url}/start_job`, upload());
  assert.equal(full.status, 429);
  assert.equal(full.headers.get('retry-after'), '12');
  const bad = await postJson<Reply>(`${p.url}/start_job`, JSON.stringify({ image: 'not base64!' }));
  assert.equal(bad.status, 400, 'a bad upload is told what is wrong with it, not to come back later');
  assert.equal(bad.body.error?.code, 'INVALID_BASE64');
  assert.equal(bad.headers.get('retry-after'), null);

  // A worker taking the job frees the slot (the queue is the list of jobs waiting, not running).
  assert.ok(await bed.redis.rPop('drain:job_id'));
  const again = await postJson<Reply>(`${p.url}/start_job`, upload());
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(await bed.redis.lIndex('drain:job_id', 0), again.body.job_id);
});

test('createApp refuses a Retry-After that is not a positive whole number of seconds', async () => {
  await assert.rejects(() => bed.start({ keyPrefix: 'x:', queueFullRetryAfterSeconds: 0.5 }), /queueFullRetryAfterSeconds/);
});

test('above QUEUE_MAX_MEMORY_RATIO of Redis maxmemory an upload gets 429 QUEUE_FULL and nothing is queued', async () => {
  const used = Number(/^used_memory:(\d+)/m.exec(await bed.redis.info('memory'))?.[1]);
  // A limit the Redis is already at 60 % of: a ratio of 0.5 refuses, the default 0.9 admits.
  await bed.redis.configSet('maxmemory', String(Math.round(used / 0.6)));
  try {
    const strict = await bed.start({ keyPrefix: 'mem:', queueMaxMemoryRatio: 0.5 });
    const refused = await postJson<Reply>(`${strict.url}/start_job`, upload());
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.error?.code, 'QUEUE_FULL');
    assert.match(refused.body.error!.message, /QUEUE_MAX_MEMORY_RATIO/);
    assert.ok(refused.headers.get('retry-after'));
    assert.equal(await bed.redis.lLen('mem:job_id'), 0, 'nothing queued');
    const roomy = await bed.start({ keyPrefix: 'mem2:' });
    assert.equal((await postJson<Reply>(`${roomy.url}/start_job`, upload())).status, 200);
  } finally {
    await bed.redis.configSet('maxmemory', '0');
  }
});
