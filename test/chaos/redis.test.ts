/**
 * Chaos suite, Redis faults (issue 3). Same harness and end checks as workers.test.ts: every
 * accepted id SUCCEEDED, each output written exactly once, nothing left in job_id_processing.
 *
 * - redis-restart: redis-server stopped (SIGTERM, so the AOF is complete) mid-load for a second
 *   and started again on the same port and data folder. The proxy answers 503 + Retry-After
 *   meanwhile (the client resubmits), batch keeps retrying its fenced writes or lets the lease
 *   lapse, and everything resumes by itself: no job accepted before or after is lost.
 * - client-kill: CLIENT KILL of batch's blocking connections (the ones parked in BLMOVE) three
 *   times mid-load: the workers notice, open new connections and keep taking jobs; nothing is
 *   stranded in job_id_processing, and no more blocking connections remain than there are
 *   workers (a killed one must not come back as a leaked, idle connection).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChaosCluster } from '../support/chaos/cluster.js';
import type { ClientInfo } from '../support/chaos/redis.js';
import { runScenario } from '../support/chaos/scenario.js';

test('redis-restart: restart redis-server mid-load (AOF on) and continue', { timeout: 90_000 }, async (t) => {
  await runScenario(
    t,
    // Paced uploads (7.5 s in all) go on through the outage: some are answered 503 + Retry-After.
    { name: 'redis-restart', jobs: 300, ratePerSecond: 40, env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '3000', REAPER_INTERVAL_MS: '200' } },
    async ({ cluster, whenWritten, note }) => {
      await whenWritten(0.25);
      await note('restart redis-server');
      await cluster.restartRedis(1_000);
      await note('redis-server is back');
    },
  );
});

const BLOCKING_COMMANDS = /^(blmove|brpoplpush|brpop|blpop|bzpopmin|blmpop)$/;

/** Batch's connections parked in (or last used for) a blocking command, found by command, name or the blocked flag. */
async function blockingClients(cluster: ChaosCluster): Promise<{ clients: ClientInfo[]; blockedNow: number; summary: string }> {
  const clients = (await cluster.redis.clientList())
    .filter((c) => !c.name.startsWith('chaos-'))
    .filter((c) => BLOCKING_COMMANDS.test(c.cmd) || /block|wait/i.test(c.name) || c.flags.includes('b'));
  const summary = [...new Set(clients.map((c) => `${c.name || '(no name)'}/${c.cmd}`))].sort().join(' ');
  return { clients, blockedNow: clients.filter((c) => c.flags.includes('b')).length, summary };
}

/** Problems when more connections carry the killed connections' names than there are workers to use them. */
async function connectionLeak(cluster: ChaosCluster, names: ReadonlySet<string>, workers: number): Promise<string[]> {
  // Unnamed connections cannot be told apart from the others; nothing to count then.
  if (names.has('')) return [];
  const left = (await cluster.redis.clientList()).filter((c) => names.has(c.name));
  if (left.length <= workers) return [];
  const idle = left.filter((c) => c.cmd === 'NULL').length;
  return [`${left.length} connections named like the killed ones remain for ${workers} workers (${idle} never used since they connected): killed blocking connections leak`];
}

const CLIENT_KILL_CONCURRENCY = 4;

test('client-kill: kill the blocking connections (CLIENT KILL) mid-load', { timeout: 90_000 }, async (t) => {
  let killed = 0;
  const killedNames = new Set<string>();
  await runScenario(
    t,
    // Uploads slower than batch can work leave the workers idle now and then, so the kills hit
    // connections while they block.
    { name: 'client-kill', jobs: 200, ratePerSecond: 30, env: { BATCH_CONCURRENCY: String(CLIENT_KILL_CONCURRENCY), JOB_LEASE_MS: '2000', REAPER_INTERVAL_MS: '200' } },
    async ({ cluster, whenWritten, note }) => {
      for (const share of [0.2, 0.45, 0.7]) {
        await whenWritten(share);
        // Wait (up to 2 s) for a moment when a worker is blocked right now; then take what is there.
        let found = await blockingClients(cluster);
        for (let i = 0; i < 100 && found.blockedNow === 0; i++) {
          await sleep(20);
          found = await blockingClients(cluster);
        }
        await note(`CLIENT KILL ${found.clients.length} blocking connections (${found.blockedNow} blocked now: ${found.summary})`);
        for (const c of found.clients) killedNames.add(c.name);
        killed += await cluster.redis.killClients(found.clients.map((c) => c.id));
      }
      assert.ok(killed > 0, 'no blocking connection was found in CLIENT LIST to kill');
      // Each worker needs one blocking connection; one more per kill is a leak that grows with every fault.
      return { check: () => connectionLeak(cluster, killedNames, CLIENT_KILL_CONCURRENCY) };
    },
  );
});
