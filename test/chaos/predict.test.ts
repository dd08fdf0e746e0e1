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
 * - png-bomb: PNG decompression bombs (issue 18) packed densely enough to pass the proxy's length
 *   check (a 256×256 header inflating to 200 MiB, 2000×2000 ones to 1 GiB) go to predict among
 *   the small jobs. Each ends FAILED with PNG_DATA_TOO_LARGE at its first attempt while the rest
 *   flow; prints predict's peak memory and the longest wait for its /health meanwhile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pngBomb } from '@cutout/shared/testing';
import { slowImage } from '../support/chaos/load.js';
import { runScenario } from '../support/chaos/scenario.js';
import { peakRssMiB, resetPeakRss, rssMiB, watchHealth } from '../support/service-watch.js';

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

test('png-bomb: dense PNG bombs fail at once with PNG_DATA_TOO_LARGE while the rest flow; predict holds', { timeout: 90_000 }, async (t) => {
  const bombs = [
    pngBomb({ width: 256, height: 256 }, 200),
    pngBomb({ width: 2000, height: 2000 }, 1024),
    pngBomb({ width: 2000, height: 2000, colour: 6, interlaced: true }, 1024),
  ].map((bytes) => bytes.toString('base64'));
  let watched: { peakMiB: number; startMiB: number; longestGapMs: number; answers: number; failures: string[] } | undefined;
  await runScenario(
    t,
    { name: 'png-bomb', jobs: 200, firstImages: bombs, env: { BATCH_CONCURRENCY: '4', JOB_MAX_ATTEMPTS: '3' } },
    async ({ cluster, load }) => {
      const pid = cluster.predict.pid!;
      resetPeakRss(pid);
      const startMiB = rssMiB(pid);
      const health = watchHealth(`${cluster.predictUrl}/health`);
      await load.done;
      const ids = [...load.imageOf].filter(([, index]) => index < bombs.length).map(([id]) => id);
      assert.equal(ids.length, bombs.length, `every bomb was accepted: ${load.problems.join('; ')}`);
      // Watched until the bombs have ended, so the figures cover their processing.
      for (const id of ids) {
        for (;;) {
          const job = (await (await fetch(`${cluster.proxyUrl}/v1/jobs/${id}`)).json()) as { status: string };
          if (job.status !== 'QUEUED' && job.status !== 'RUNNING') break;
          await sleep(50);
        }
      }
      const report = await health.stop();
      watched = { peakMiB: peakRssMiB(pid), startMiB, ...report };
      return {
        failed: new Map(ids.map((id) => [id, ['PNG_DATA_TOO_LARGE']])),
        attempts: 1,
        check: async () => {
          const problems: string[] = [];
          for (const id of ids) {
            const job = (await (await fetch(`${cluster.proxyUrl}/v1/jobs/${id}`)).json()) as { attempts: number };
            if (job.attempts !== 1) problems.push(`${id}: a bomb took ${job.attempts} attempts; a 4xx from predict is final`);
          }
          return problems;
        },
      };
    },
  );
  assert.ok(watched, 'the figures were taken');
  t.diagnostic(
    `png-bomb: predict RSS ${Math.round(watched.startMiB)} MiB at the start, peak ${Math.round(watched.peakMiB)} MiB; ` +
      `/health answered ${watched.answers} times, longest wait ${watched.longestGapMs} ms`,
  );
  assert.deepEqual(watched.failures, [], "predict's /health always answered");
  assert.ok(watched.peakMiB - watched.startMiB < 256, "predict's memory grew by less than 256 MiB");
});
