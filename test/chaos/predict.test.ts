/**
 * Chaos suite, predict faults (issue 3). Same harness and end checks as workers.test.ts: every
 * accepted id SUCCEEDED (or FAILED only where said), each output written exactly once, nothing
 * left in job_id_processing.
 *
 * - predict: predict killed (-9) mid-load and started again on the same port, then later frozen
 *   (SIGSTOP) for three seconds with a 1 s PREDICT_TIMEOUT_MS. Calls fail or time out, the jobs
 *   are retried with backoff, and every one of them still succeeds exactly once.
 * - poison: a job predict can never finish in time (a 25-megapixel image against a 1 s timeout)
 *   fails every attempt and ends FAILED (PREDICT_TIMEOUT or TOO_MANY_ATTEMPTS) in the dead-letter
 *   list after JOB_MAX_ATTEMPTS, while all the small jobs around it flow and succeed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { slowImage } from '../support/chaos/load.js';
import { runScenario } from '../support/chaos/scenario.js';

test('predict: kill predict mid-load and start it again; a predict that hangs', { timeout: 90_000 }, async (t) => {
  await runScenario(
    t,
    {
      name: 'predict',
      jobs: 300,
      env: {
        BATCH_CONCURRENCY: '4',
        PREDICT_TIMEOUT_MS: '1000',
        // Enough attempts that jobs taken while predict is away do not run out of them.
        JOB_MAX_ATTEMPTS: '10',
        RETRY_BASE_DELAY_MS: '200',
        RETRY_MAX_DELAY_MS: '2000',
        JOB_LEASE_MS: '3000',
        REAPER_INTERVAL_MS: '200',
      },
    },
    async ({ cluster, whenWritten, note }) => {
      await whenWritten(0.2);
      await note('kill -9 predict');
      await cluster.predict.kill();
      await sleep(1_000);
      await cluster.predict.start();
      await note('predict is back');
      await whenWritten(0.55);
      await note('SIGSTOP predict');
      cluster.predict.pause();
      await sleep(3_000);
      cluster.predict.resume();
      await note('SIGCONT predict');
    },
  );
});

test('poison: a job that fails every attempt is dead-lettered while the rest flow', { timeout: 90_000 }, async (t) => {
  await runScenario(
    t,
    {
      name: 'poison',
      jobs: 200,
      firstImages: [await slowImage()],
      env: {
        BATCH_CONCURRENCY: '4',
        PREDICT_TIMEOUT_MS: '1000',
        JOB_MAX_ATTEMPTS: '3',
        RETRY_BASE_DELAY_MS: '100',
        RETRY_MAX_DELAY_MS: '500',
        JOB_LEASE_MS: '3000',
        REAPER_INTERVAL_MS: '200',
      },
    },
    async ({ load }) => {
      await load.done;
      const poison = [...load.imageOf].find(([, index]) => index === 0)?.[0];
      assert.ok(poison, `the slow image was not accepted: ${load.problems.join('; ')}`);
      return { failed: new Map([[poison, ['PREDICT_TIMEOUT', 'TOO_MANY_ATTEMPTS']]]) };
    },
  );
});
