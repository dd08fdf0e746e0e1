/**
 * Chaos suite, batch workers (issue 3). Each scenario runs a real cluster (private append-only
 * redis-server, predict, proxy, batch as child processes on free ports), submits a few hundred
 * small jobs through the proxy, and ends by checking that every accepted id is SUCCEEDED, that
 * each output was written exactly once (counted by Redis keyspace notifications and by the job's
 * `output_writes`), and that nothing is left in job_id_processing, the queue, the leases or the
 * delayed set. Each prints `chaos <name>: submitted=… succeeded=… failed=… lost=… duplicated=…`.
 *
 * - kill-batch: kill -9 of a batch process with jobs in flight loses nothing. Its leases expire,
 *   the reaper (in the new batch process) puts the jobs back, and fencing keeps a late write
 *   from ever landing twice.
 * - two-batches: two batch processes taking from the same queue never run a job to two outputs
 *   (the take is one atomic step; the reaper lock lets one of them reap at a time).
 * - long-job: a job that outlives its lease many times (predict frozen for 5 lease lengths) keeps
 *   it through heartbeats: the reaper never hands it to anyone else, so every job has attempts=1.
 */
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runScenario } from '../support/chaos/scenario.js';

test('kill-batch: kill -9 a batch process mid-load and start a new one', { timeout: 90_000 }, async (t) => {
  await runScenario(
    t,
    { name: 'kill-batch', jobs: 300, env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '1500', REAPER_INTERVAL_MS: '200' } },
    async ({ cluster, whenWritten, note }) => {
      await whenWritten(0.25);
      await note('kill -9 the batch process');
      await cluster.batches[0]!.kill();
      await cluster.addBatch();
    },
  );
});

test('two-batches: two batch processes compete for the same queue', { timeout: 90_000 }, async (t) => {
  await runScenario(
    t,
    { name: 'two-batches', jobs: 300, batches: 2, env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: '2000', REAPER_INTERVAL_MS: '200' } },
    async ({ whenWritten, note }) => {
      await whenWritten(0.5);
      await note('half way');
    },
  );
});

test('long-job: jobs outlive their lease several times and are renewed, never run twice', { timeout: 90_000 }, async (t) => {
  const leaseMs = 600;
  await runScenario(
    t,
    {
      name: 'long-job',
      jobs: 200,
      env: { BATCH_CONCURRENCY: '4', JOB_LEASE_MS: String(leaseMs), REAPER_INTERVAL_MS: '100', PREDICT_TIMEOUT_MS: '20000' },
    },
    async ({ cluster, whenWritten, note }) => {
      await whenWritten(0.25);
      await note('SIGSTOP predict');
      cluster.predict.pause();
      await sleep(5 * leaseMs);
      await note('SIGCONT predict');
      cluster.predict.resume();
      return { attempts: 1 };
    },
  );
});
