/**
 * Chaos suite, Redis faults beyond a clean restart (issue 11). Same harness and end checks as
 * redis.test.ts: every accepted id SUCCEEDED, each output written exactly once, nothing left in
 * job_id_processing, the queue, the leases or the delayed set; each prints its figures line.
 *
 * - kill-redis: kill -9 of redis-server mid-load with `appendfsync always`, started again on the
 *   same data folder. Every write Redis acknowledged was on disk, so no accepted job is missing
 *   from the AOF it loads back; a write whose reply was lost with the process is retried and
 *   recognised (the `settled` field), not applied twice.
 * - stall-redis: redis-server frozen (SIGSTOP) for three seconds, then SIGCONT. Nothing errors:
 *   every socket stays open and nothing answers. batch gives up each call after
 *   BATCH_REDIS_TIMEOUT_MS and replaces its connection; the calls it gave up still run when
 *   Redis wakes, and each is either recognised as done or finds its claim gone.
 * - relay-drop: batch and the proxy reach Redis through relays that silently drop everything for
 *   three seconds (the sockets stay open). batch's relay then passes new connections only (the
 *   old ones stay dead, as after a failover), so batch must replace its connections to go on;
 *   the proxy's relay lets the held bytes through late, as TCP retransmission would once the
 *   route is back.
 * - redis-maxmemory: Redis with little room (noeviction): once memory passes
 *   QUEUE_MAX_MEMORY_RATIO of maxmemory, uploads answer 429 QUEUE_FULL with Retry-After and
 *   queue nothing, while the accepted jobs still finish; more memory (CONFIG SET maxmemory, what
 *   an operator does) lets the rest in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosCluster } from '../support/chaos/cluster.js';
import type { LoadGenerator } from '../support/chaos/load.js';
import { runScenario } from '../support/chaos/scenario.js';

/** Resolves once the load has had `count` uploads accepted: a fault then lands while uploads go on. */
async function whenAccepted(load: LoadGenerator, count: number): Promise<void> {
  while (load.ids.length < count) await sleep(20);
}

/** The scenario's end check that batch gave up at least one Redis call (the fault reached it, and its calls have deadlines). */
function batchGaveUpACall(cluster: ChaosCluster): () => Promise<string[]> {
  return async () =>
    cluster.lines.some((l) => l.includes('redis call timed out; replacing the connection'))
      ? []
      : ['batch never gave up a Redis call: the fault did not reach it, or its calls have no deadline'];
}

const LEASE_ENV = { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '3000', REAPER_INTERVAL_MS: '200' };

test('kill-redis: kill -9 redis-server mid-load (appendfsync always) and start it on the same data', { timeout: 60_000 }, async (t) => {
  await runScenario(
    t,
    { name: 'kill-redis', jobs: 150, ratePerSecond: 40, redis: { appendfsync: 'always' }, env: LEASE_ENV },
    async ({ cluster, whenWritten, note }) => {
      await whenWritten(0.1);
      await note('kill -9 redis-server');
      await cluster.killRedis(1_000);
      await note('redis-server is back');
    },
  );
});

test('stall-redis: SIGSTOP redis-server for 3 s mid-load, then SIGCONT', { timeout: 60_000 }, async (t) => {
  await runScenario(t, { name: 'stall-redis', jobs: 150, ratePerSecond: 40, env: LEASE_ENV }, async ({ cluster, whenWritten, note }) => {
    await whenWritten(0.1);
    await note('SIGSTOP redis-server');
    await cluster.stallRedis(3_000);
    await note('SIGCONT redis-server');
    return { check: batchGaveUpACall(cluster) };
  });
});

test('relay-drop: batch and proxy reach Redis through relays that drop everything for 3 s', { timeout: 60_000 }, async (t) => {
  await runScenario(
    t,
    { name: 'relay-drop', jobs: 150, ratePerSecond: 30, relays: ['batch', 'proxy'], env: LEASE_ENV },
    async ({ cluster, load, whenWritten, note }) => {
      const batchRelay = cluster.relays.get('batch')!;
      const proxyRelay = cluster.relays.get('proxy')!;
      await whenWritten(0.05);
      await whenAccepted(load, 40);
      await note('black hole between the services and Redis');
      batchRelay.blackHole();
      proxyRelay.blackHole();
      await sleep(3_000);
      batchRelay.heal();
      proxyRelay.heal({ resumeHeld: true });
      await note(`relays heal (${batchRelay.held} of batch's connections stay dead)`);
      return { check: batchGaveUpACall(cluster) };
    },
  );
});

test('redis-maxmemory: near maxmemory uploads answer 429 with Retry-After; nothing accepted is lost', { timeout: 60_000 }, async (t) => {
  const verdict = await runScenario(
    t,
    // Admission at 0.97 leaves less room than the jobs already queued need for their outputs, so
    // Redis itself reaches maxmemory and refuses writes (OOM) while the limit holds.
    { name: 'redis-maxmemory', jobs: 200, ratePerSecond: 50, env: { ...LEASE_ENV, QUEUE_MAX_MEMORY_RATIO: '0.97' } },
    async ({ cluster, load, note }) => {
      const admin = cluster.redis.admin;
      // Measured once the stack is under way (connections, scripts and buffers in place).
      await whenAccepted(load, 20);
      const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
      // Room for about 200 KB more below QUEUE_MAX_MEMORY_RATIO: a few dozen small jobs.
      const small = Math.round((used + 200_000) / 0.97);
      await admin.configSet('maxmemory', String(small));
      await note(`maxmemory ${small} bytes (${used} used)`);
      const deadline = Date.now() + 20_000;
      while (load.refused === 0 && Date.now() < deadline) await sleep(50);
      await sleep(3_000); // a while at the limit, with batch still finishing what was accepted
      const info = await admin.info('memory');
      await note(`uploads refused: ${[...load.refusals].map(([k, n]) => `${k}=${n}`).join(' ')}; used_memory ${/^used_memory:(\d+)/m.exec(info)?.[1]} of ${small}; maxmemory raised`);
      await admin.configSet('maxmemory', String(small * 20));
      return {
        check: async () => {
          const problems: string[] = [];
          if ((load.refusals.get('429 QUEUE_FULL') ?? 0) === 0) problems.push(`no upload was refused 429 QUEUE_FULL near maxmemory (refusals: ${[...load.refusals].join(' ') || 'none'})`);
          return problems;
        },
      };
    },
  );
  assert.ok(verdict.submitted > 0);
});
