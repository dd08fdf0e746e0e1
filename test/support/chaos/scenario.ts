import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { ChaosCluster, type ClusterOptions } from './cluster.js';
import { LoadGenerator, smallImages } from './load.js';
import { explain, judge, snapshot, waitFinished, waitForWritten, type Expectations, type Verdict } from './verdict.js';
import { errorMessage } from '@cutout/shared';

export interface ScenarioOptions extends ClusterOptions {
  /** Small jobs to submit. */
  jobs: number;
  /** Other images submitted first (e.g. a poison job), before the small ones. */
  firstImages?: readonly string[];
  /** Uploads in flight at once (default 8). */
  concurrency?: number;
  ratePerSecond?: number;
  /** How long every accepted job may take to finish, counted from the start of the load. Default 40 s. */
  finishWithinMs?: number;
}

export interface ScenarioContext {
  cluster: ChaosCluster;
  load: LoadGenerator;
  /** Resolves once this share (0..1) of all jobs to submit has its output written. */
  whenWritten(share: number): Promise<void>;
  /** Records queue/processing/lease counts as a test diagnostic, labelled with what happens next. */
  note(label: string): Promise<void>;
}

let imageCache: Promise<string[]> | undefined;

async function images(count: number): Promise<string[]> {
  imageCache ??= smallImages(400);
  const cached = await imageCache;
  return count <= cached.length ? cached.slice(0, count) : smallImages(count);
}

/**
 * Starts a cluster, submits the load, runs `chaos` (which does its faults mid-load and returns
 * what else is expected), waits for every accepted job to finish, prints the summary line and
 * fails the test with every problem found. The cluster is removed whatever happens.
 */
export async function runScenario(
  t: TestContext,
  options: ScenarioOptions,
  chaos: (ctx: ScenarioContext) => Promise<Expectations | void>,
): Promise<Verdict> {
  const payloads = [...(options.firstImages ?? []), ...(await images(options.jobs))];
  const cluster = await ChaosCluster.start(options);
  let load: LoadGenerator | undefined;
  t.after(async () => {
    load?.stop();
    await cluster.close();
  });
  load = new LoadGenerator({
    proxyUrl: cluster.proxyUrl,
    images: payloads,
    concurrency: options.concurrency ?? 8,
    headers: cluster.clientHeaders,
    ...(options.ratePerSecond !== undefined ? { ratePerSecond: options.ratePerSecond } : {}),
  });
  const started = Date.now();
  const ctx: ScenarioContext = {
    cluster,
    load,
    whenWritten: (share) => waitForWritten(cluster, load, Math.ceil(payloads.length * share)),
    note: async (label) => t.diagnostic(`${label} at +${Date.now() - started} ms: ${await snapshot(cluster, load)}`),
  };
  // A fault step that fails (the mid-load point never came) still gets its summary line and
  // the state of every job, which usually says why.
  const outcome = await chaos(ctx).then(
    (expect) => ({ expect: expect ?? {}, error: undefined }),
    (error: unknown) => ({ expect: {}, error: errorMessage(error) }),
  );
  const unfinished = await waitFinished(cluster, load, Math.max(0, (options.finishWithinMs ?? 40_000) - (Date.now() - started)));
  const verdict = await judge(cluster, load, unfinished, outcome.expect);
  if (outcome.error !== undefined) verdict.problems.unshift(`the fault step failed: ${outcome.error}`);
  t.diagnostic(`finished in ${Date.now() - started} ms; succeeded after a retry ${verdict.retried}; refused (429/503) ${load.refused}${load.refused > 0 ? ` (${[...load.refusals].map(([k, n]) => `${k}=${n}`).join(' ')})` : ''}, upload connection errors ${load.networkErrors}, writes in the observer's blind spot ${verdict.unobserved}${verdict.failures.length > 0 ? `; FAILED: ${verdict.failures.slice(0, 5).join(', ')}` : ''}`);
  assert.equal(verdict.problems.length, 0, explain(cluster, verdict));
  return verdict;
}
