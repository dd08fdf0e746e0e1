/**
 * Chaos suite, one key's abuse (issue 18, item 5). Same harness and end checks as the other
 * scenarios.
 *
 * - fair-share: key B floods (the ordinary load, all of it B's, plus groups of 50 on top) so a
 *   backlog of hundreds waits; meanwhile key A sends one job at a time, each once the last has
 *   finished. Each of A's jobs must wait for at most one of B's jobs per worker: counted by
 *   order, as the B jobs that started after A's job was queued and before it started (times from
 *   the records, on Redis's clock). Every job of both keys still succeeds, once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runScenario } from '../support/chaos/scenario.js';
import { smallImages } from '../support/chaos/load.js';

const KEY_A = 'chaos-key-a-3f2e1d0c9b8a7654';
const KEY_B = 'chaos-key-b-0123456789abcdef';
const WORKERS = 2;
const A_JOBS = 6;
const B_GROUPS = 4;

interface AJob {
  id: string;
  /** B's queued ids when it was sent. */
  backlog: number;
  /** B's jobs that started after it was queued and before it started. */
  ahead: number;
  waitedMs: number;
}

test('fair-share: key B floods the queue; each of key A\'s jobs waits for at most one of B\'s per worker', { timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-chaos-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keysFile = join(dir, 'keys');
  writeFileSync(keysFile, `a ${KEY_A}\nb ${KEY_B}\n`, { mode: 0o600 });
  const image = (await smallImages(1))[0]!;
  const aJobs: AJob[] = [];
  const bGroupJobs: string[] = [];
  await runScenario(
    t,
    {
      name: 'fair-share',
      jobs: 300,
      concurrency: 16,
      finishWithinMs: 120_000,
      clientHeaders: { 'x-api-token': KEY_B },
      env: { API_KEYS_FILE: keysFile, BATCH_CONCURRENCY: String(WORKERS) },
    },
    async ({ cluster, load, note }) => {
      const post = async (key: string, path: string, body: unknown) => {
        const res = await fetch(`${cluster.proxyUrl}${path}`, { method: 'POST', headers: { 'x-api-token': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        if (res.status !== 202) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as { id: string; jobs?: string[] };
      };
      const admin = cluster.redis.admin;
      const record = (id: string) => `${cluster.prefix}${id}_job`;
      while (load.ids.length < 20) await sleep(20);
      const groups: string[] = [];
      for (let g = 0; g < B_GROUPS; g++) {
        const group = await post(KEY_B, '/v1/groups', { images: Array.from({ length: 50 }, () => image) });
        groups.push(group.id);
        bGroupJobs.push(...(group.jobs ?? []));
      }
      await note(`B sent ${B_GROUPS} groups of 50`);
      for (let i = 0; i < A_JOBS; i++) {
        const backlog = await admin.lLen(`${cluster.prefix}job_id`);
        const { id } = await post(KEY_A, '/v1/jobs', { image });
        for (let status = ''; status !== 'SUCCEEDED' && status !== 'FAILED'; ) {
          const res = await fetch(`${cluster.proxyUrl}/v1/jobs/${id}?wait=10`, { headers: { 'x-api-token': KEY_A } });
          status = ((await res.json()) as { status: string }).status;
        }
        aJobs.push({ id, backlog, ahead: -1, waitedMs: -1 });
      }
      await note(`A's ${A_JOBS} jobs done`);
      // The end checks look for an empty queue once the load's jobs are done: B's groups too.
      for (const group of groups) {
        for (let status = ''; status !== 'DONE'; ) {
          const res = await fetch(`${cluster.proxyUrl}/v1/groups/${group}?wait=10`, { headers: { 'x-api-token': KEY_B } });
          status = ((await res.json()) as { status: string }).status;
        }
      }
      return {
        check: async () => {
          const problems: string[] = [];
          const times = async (id: string) => (await admin.hmGet(record(id), ['created_at', 'started_at', 'status'])) as [string, string, string];
          const bStarts = await Promise.all([...load.ids, ...bGroupJobs].map(async (id) => Number((await times(id))[1])));
          for (const job of aJobs) {
            const [created, started, status] = await times(job.id);
            if (status !== 'SUCCEEDED') problems.push(`A's job ${job.id} ended ${status}`);
            job.ahead = bStarts.filter((s) => s >= Number(created) && s < Number(started)).length;
            job.waitedMs = Number(started) - Number(created);
            if (job.ahead > WORKERS) problems.push(`A's job ${job.id} waited for ${job.ahead} of B's jobs with ${WORKERS} workers (B had ${job.backlog} queued)`);
          }
          const groupStatuses = await Promise.all(bGroupJobs.map(async (id) => (await times(id))[2]));
          const unfinished = groupStatuses.filter((s) => s !== 'SUCCEEDED').length;
          if (unfinished > 0) problems.push(`${unfinished} of B's group jobs did not succeed`);
          return problems;
        },
      };
    },
  );
  for (const job of aJobs) t.diagnostic(`A's job: B had ${job.backlog} queued; it waited ${job.waitedMs} ms, behind ${job.ahead} of B's jobs (at most ${WORKERS}, one per worker)`);
});
