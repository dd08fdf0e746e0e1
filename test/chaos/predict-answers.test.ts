/**
 * Chaos suite, predict servers that answer badly (issue 11). batch's PREDICT_URL lists the real
 * predict and a fake one (batch/src/fake-predict.ts) that misbehaves; calls rotate over the list,
 * so each attempt of a job may land on either. Same end checks as the other scenarios, except
 * that a job may end FAILED with the fault's own code once all its attempts met the fake: every
 * accepted job ends with a reason, no output is written twice, and none is the fake's.
 *
 * - predict-garbage: the fake answers 200 image/png with `hello`, later resets the connection
 *   after reading the request. Every such answer is refused before it is stored (a retryable
 *   PREDICT_BAD_OUTPUT, or PREDICT_FAILED for the reset): jobs end SUCCEEDED once an attempt
 *   reaches the real predict, or FAILED with that code after JOB_MAX_ATTEMPTS.
 * - predict-trickle: the fake sends a 200 whose body comes a byte every 100 ms and never ends.
 *   PREDICT_TIMEOUT_MS is one deadline for the whole call, so each such call is cut off (undici's
 *   per-byte timeouts alone would wait forever while the heartbeat kept the lease alive).
 */
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakePredict, type FakePredict } from '@cutout/batch/testing';
import { layoutKeys } from '../support/chaos/verdict.js';
import type { ChaosCluster } from '../support/chaos/cluster.js';
import { runScenario } from '../support/chaos/scenario.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function fake(t: { after(fn: () => Promise<void>): void }, mode: FakePredict['mode']): Promise<FakePredict> {
  // Its own 'png' answers are never used here.
  const server = await startFakePredict({ png: PNG_SIGNATURE, mode });
  t.after(() => server.close());
  return server;
}

/** Problems when a SUCCEEDED job's stored output is not a PNG (the fake's answer got through). */
async function outputsArePng(cluster: ChaosCluster, ids: readonly string[]): Promise<string[]> {
  const k = layoutKeys(cluster.prefix);
  const problems: string[] = [];
  for (const id of ids) {
    const stored = await cluster.redis.admin.get(k.output(id));
    if (stored === null) continue; // not SUCCEEDED: judged by the verdict
    const bytes = Buffer.from(stored, 'base64');
    if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE)) problems.push(`${id}: stored output is not a PNG (${bytes.subarray(0, 16).toString('hex')})`);
  }
  return problems;
}

test('predict-garbage: one predict server answers garbage, then resets; none of it is stored', { timeout: 60_000 }, async (t) => {
  const bad = await fake(t, 'garbage');
  await runScenario(
    t,
    {
      name: 'predict-garbage',
      jobs: 150,
      env: { BATCH_CONCURRENCY: '4', JOB_MAX_ATTEMPTS: '3', RETRY_BASE_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '200', JOB_LEASE_MS: '3000', REAPER_INTERVAL_MS: '200' },
      serviceEnv: (service, { predictUrl }) => (service === 'batch' ? { PREDICT_URL: `${predictUrl},${bad.url}` } : undefined),
    },
    async ({ cluster, load, whenWritten, note }) => {
      await whenWritten(0.4);
      await note(`the bad server switches from garbage to reset (${bad.requests.length} calls so far)`);
      bad.mode = 'reset';
      await load.done;
      return {
        mayFail: ['PREDICT_BAD_OUTPUT', 'PREDICT_FAILED'],
        check: async () => [
          ...(bad.requests.filter((r) => r.path === '/predict').length === 0 ? ['the bad predict server was never called'] : []),
          ...(await outputsArePng(cluster, load.ids)),
        ],
      };
    },
  );
});

test('predict-trickle: one predict server trickles its answer forever; the total deadline cuts every such call off', { timeout: 60_000 }, async (t) => {
  const slow = await fake(t, 'trickle');
  await runScenario(
    t,
    {
      name: 'predict-trickle',
      jobs: 100,
      env: { BATCH_CONCURRENCY: '8', PREDICT_TIMEOUT_MS: '800', JOB_MAX_ATTEMPTS: '3', RETRY_BASE_DELAY_MS: '50', RETRY_MAX_DELAY_MS: '200', JOB_LEASE_MS: '3000', REAPER_INTERVAL_MS: '200' },
      // One call in three meets the trickler.
      serviceEnv: (service, { predictUrl }) => (service === 'batch' ? { PREDICT_URL: `${predictUrl},${predictUrl},${slow.url}` } : undefined),
    },
    async ({ cluster, load }) => {
      await load.done;
      return {
        mayFail: ['PREDICT_TIMEOUT'],
        check: async () => {
          const problems: string[] = [];
          if (slow.requests.filter((r) => r.path === '/predict').length === 0) problems.push('the trickling server was never called');
          // Every job has ended, so every trickled answer must have been abandoned by now (a few ms for the sockets to close).
          for (let i = 0; i < 250 && slow.inFlight > 0; i++) await sleep(20);
          if (slow.inFlight > 0) problems.push(`${slow.inFlight} trickled answers are still being received after every job ended`);
          problems.push(...(await outputsArePng(cluster, load.ids)));
          return problems;
        },
      };
    },
  );
});
