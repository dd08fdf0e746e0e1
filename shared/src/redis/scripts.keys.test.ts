import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { createRedisClient, closeRedisClient, type RedisClient } from './client.js';
import { JobRepository } from './job.repository.js';
import { OutboxRepository } from '../callbacks/outbox.repository.js';
import { LuaScript } from './lua-script.js';
import { groupKeys, jobKeys } from './keys.js';

// Every key a script touches must come in KEYS: Redis Cluster routes a script by its declared
// keys, and Redis 7.0 itself checks only that the keys a #!lua script touches share one slot,
// not that they were declared. So this test watches (MONITOR) every command each script runs
// and checks its keys (COMMAND GETKEYS) against the keys that script was called with, while the
// repository's flows run against a one-node Redis Cluster with a hash-tagged prefix.

let server: RedisServerHandle;
let redis: RedisClient;
let watcher: RedisClient;
let inspect: RedisClient;
const lines: string[] = [];
const PREFIX = '{cutout}:';

before(async () => {
  // The node's cluster state file goes into the server's own temporary data directory.
  server = await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] });
  inspect = createRedisClient(server.url, { name: 'inspect', onError: () => {} });
  await inspect.connect();
  await inspect.sendCommand(['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']);
  while (!/cluster_state:ok/.test(String(await inspect.sendCommand(['CLUSTER', 'INFO'])))) await sleep(50);
  redis = createRedisClient(server.url, { name: 'test', onError: () => {} });
  await redis.connect();
  watcher = createRedisClient(server.url, { name: 'monitor', onError: () => {} });
  await watcher.connect();
  await watcher.monitor((line) => lines.push(String(line)));
});

after(async () => {
  await closeRedisClient(watcher);
  await closeRedisClient(redis);
  await closeRedisClient(inspect);
  await server.stop();
});

/** The quoted arguments of a MONITOR line, unescaped. */
function argsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    out.push(m[1]!.replace(/\\x([0-9a-f]{2})|\\(.)/g, (_, hex: string | undefined, c: string) => (hex ? String.fromCharCode(parseInt(hex, 16)) : ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c)));
  }
  return out;
}

interface Violation {
  script: string;
  command: string;
  key: string;
}

/** Every command a script ran, checked against the keys it was called with; how many were checked. */
async function check(): Promise<{ checked: number; scripts: number; violations: Violation[]; slots: Set<number> }> {
  await sleep(100); // MONITOR lines arrive after the replies
  let declared: Set<string> | null = null;
  let script = '';
  let checked = 0;
  let scripts = 0;
  const violations: Violation[] = [];
  const slots = new Set<number>();
  for (const line of lines.splice(0)) {
    const m = /^[\d.]+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!m) continue;
    const args = argsOf(m[2]!);
    const name = (args[0] ?? '').toUpperCase();
    if (m[1] !== 'lua') {
      if (name === 'EVALSHA' || name === 'EVAL') {
        const n = Number(args[2]);
        declared = new Set(args.slice(3, 3 + n));
        script = `${name} ${args[1]!.slice(0, 40).replace(/\n/g, ' ')}`;
        scripts++;
        for (const key of declared) slots.add(Number(await inspect.sendCommand(['CLUSTER', 'KEYSLOT', key])));
      }
      continue;
    }
    checked++;
    let keys: string[] = [];
    try {
      keys = ((await inspect.sendCommand(['COMMAND', 'GETKEYS', ...args])) as string[]).map(String);
    } catch {
      keys = []; // a command without keys (TIME, PUBLISH)
    }
    for (const key of keys) if (!declared?.has(key)) violations.push({ script, command: args.join(' ').slice(0, 80), key });
  }
  return { checked, scripts, violations, slots };
}

const image = () => ({ id: randomUUID(), imageBase64: 'aGVsbG8=', format: 'png', width: 2, height: 3, bytes: 5 });

test('the check itself catches a script that builds a key name', async () => {
  lines.length = 0;
  const bad = new LuaScript(`return redis.call('GET', KEYS[1] .. ':built')`);
  await bad.run(redis, [`${PREFIX}declared`], []);
  const { violations, checked } = await check();
  assert.equal(checked, 1);
  assert.deepEqual(violations.map((v) => v.key), [`${PREFIX}declared:built`]);
});

test("every script of the repository's flows touches only keys it was given, all in one cluster slot", async () => {
  lines.length = 0;
  const repo = new JobRepository(redis, { keyPrefix: PREFIX, ttlSeconds: 60, leaseMs: 200, maxAttempts: 2 });
  const outbox = new OutboxRepository(redis, { keyPrefix: PREFIX, deadLetterMax: 10, laneConcurrency: 2 });

  // A single job with a callback: enqueue, take, renew, complete, its callback claimed and settled.
  const single = image();
  await repo.enqueue({ ...single, callbackUrl: 'http://127.0.0.1:9/cb', deadlineMs: 60_000, idempotency: { key: 'k', bodyHash: 'h' } });
  const s = (await repo.take('w:1:0')).job!;
  assert.equal(await repo.renew(s, s.token), true);
  assert.equal(await repo.complete(s.id, s.token, 'b3V0'), true, 'by id alone');
  const claim = await outbox.claim(10_000);
  assert.ok(typeof claim === 'object');
  await outbox.settle(claim, 'delivered', { maxAttempts: 5, delayMs: 1_000, error: '', receiverFailed: false });

  // A group of four: complete (the group learnt by the script's answer), fail, retry and release,
  // a crashed worker reaped to WORKER_LOST, a due retry, a deadline, a cancel of what is left.
  const gid = randomUUID();
  const images = [image(), image(), image(), image()];
  assert.equal((await repo.enqueueGroup(gid, images, { callbackUrl: 'http://127.0.0.1:9/g' })).accepted, true);
  const g1 = (await repo.take('w:1:0')).job!;
  assert.equal(g1.group, gid);
  assert.equal(await repo.complete(g1.id, g1.token, 'b3V0'), true);
  const g2 = (await repo.take('w:1:0')).job!;
  assert.equal(await repo.fail(g2, g2.token, 'IMAGE_DECODE_FAILED', 'bad'), true);
  const g3 = (await repo.take('w:1:0')).job!;
  assert.equal(await repo.retry(g3, g3.token, 'PREDICT_FAILED', '500', 0), 'retry');
  const g4 = (await repo.take('w:1:0')).job!;
  assert.equal(await repo.release(g4, g4.token), true);
  assert.equal(await repo.acquireReaperLock('reaper', 10_000), true);
  for (let i = 0; i < 50 && (await redis.zCard(repo.keys.delayed)) > 0; i++) await repo.reap();
  const again = (await repo.take('w:1:0')).job!; // crashes: reaped twice until WORKER_LOST
  assert.equal((await repo.reap()).requeued.length, 0);
  for (let i = 0; i < 200 && (await repo.get(again.id))?.status !== 'FAILED'; i++) {
    await repo.reap();
    if ((await repo.get(again.id))?.status === 'QUEUED') await repo.take('w:1:0');
    await sleep(20);
  }
  assert.equal((await repo.get(again.id))?.error?.code, 'WORKER_LOST');
  assert.equal(await repo.cancel('group', gid), 1, 'the one handed back is cancelled');
  assert.equal((await repo.getGroup(gid))?.group.unfinished, 0, 'the group counted each end');

  // Jobs that cannot run, settled by take and by the reaper; a lease-less id in processing.
  const expiring = image();
  await repo.enqueueGroup(randomUUID(), [expiring], {});
  await redis.del(jobKeys(PREFIX, expiring.id).imageIn);
  assert.deepEqual((await repo.take('w:1:0')).failed, [{ id: expiring.id, code: 'INPUT_EXPIRED' }]);
  const late = image();
  await repo.enqueue({ ...late, deadlineMs: 1 });
  await sleep(5);
  for (let i = 0; i < 50 && (await repo.reap()).deadlines.length === 0; i++) await sleep(10);
  assert.equal((await repo.get(late.id))?.error?.code, 'DEADLINE_EXCEEDED');
  const orphan = image();
  await repo.enqueue(orphan);
  const o = (await repo.take('w:1:0')).job!;
  await redis.zRem(repo.keys.leases, o.id);
  for (let i = 0; i < 100 && (await repo.reap()).orphans.length === 0; i++) await sleep(20);
  assert.equal((await repo.get(o.id))?.status, 'QUEUED');
  assert.equal(await repo.cancel('job', o.id), 1);
  assert.equal(await repo.releaseReaperLock('reaper'), true);
  assert.ok(await redis.exists(groupKeys(PREFIX, gid).record));

  const { checked, scripts, violations, slots } = await check();
  assert.ok(scripts > 30 && checked > 200, `${scripts} script calls and ${checked} commands were checked`);
  assert.deepEqual(violations, []);
  assert.deepEqual([...slots], [Number(await inspect.sendCommand(['CLUSTER', 'KEYSLOT', PREFIX]))], 'one slot for the whole deployment');
});
