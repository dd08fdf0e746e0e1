import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { ApiError, type JobStatus, type JobView, type ProxyClient } from './api-client.js';
import type { RequestOptions } from './args.js';
import { listImages, type ImageTask } from './images.js';
import type { ProgressState, Reporter } from './progress.js';

/** The proxy answered /health with something other than 200 (e.g. it cannot reach Redis). */
export class ProxyUnhealthyError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`the proxy is up but not healthy (${status}): ${JSON.stringify(body)}`);
    this.name = 'ProxyUnhealthyError';
  }
}

export interface Failure {
  name: string;
  code: string;
  message: string;
  jobId?: string;
}

export interface TimedOut {
  name: string;
  jobId: string;
  lastStatus: JobStatus | 'unknown';
  lastError?: string;
}

export interface RunResult {
  total: number;
  succeeded: { name: string; outName: string; jobId: string }[];
  failed: Failure[];
  timedOut: TimedOut[];
}

export interface RunDeps {
  client: Pick<ProxyClient, 'health' | 'metadata' | 'startJob' | 'getJob'>;
  reporter: Reporter;
}

interface Pending extends ImageTask {
  jobId: string;
  lastStatus: JobStatus | 'unknown';
  lastError?: string;
}

function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  const err = error as { code?: unknown; name?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : typeof err.name === 'string' ? err.name : 'ERROR';
  return { code, message: typeof err.message === 'string' ? err.message : String(error) };
}

/** The same opening as request.py: print /health and /metadata, stop early when the proxy is not usable. */
async function checkProxy({ client, reporter }: RunDeps): Promise<void> {
  const health = await client.health();
  reporter.line(`health : ${JSON.stringify(health.body)}`);
  if (health.status !== 200) throw new ProxyUnhealthyError(health.status, health.body);
  try {
    reporter.line(`metadata : ${JSON.stringify(await client.metadata())}`);
  } catch (error) {
    // Metadata is informative only; jobs can still go through without it.
    reporter.warn(`metadata unavailable: ${describeError(error).message}`);
  }
}

class Run {
  readonly result: RunResult;
  readonly state: ProgressState;
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(
    private readonly options: RequestOptions,
    private readonly deps: RunDeps,
    total: number,
  ) {
    this.result = { total, succeeded: [], failed: [], timedOut: [] };
    this.state = { phase: 'submit', total, submitted: 0, succeeded: 0, failed: 0, round: 0, rounds: options.nPollings };
    this.limit = pLimit(options.concurrency);
  }

  private fail(failure: Failure): void {
    this.result.failed.push(failure);
    this.state.failed++;
    const job = failure.jobId ? ` (job ${failure.jobId})` : '';
    this.deps.reporter.warn(`failed ${failure.name}${job}: ${failure.code} ${failure.message}`);
    this.deps.reporter.update(this.state);
  }

  async submitAll(tasks: readonly ImageTask[]): Promise<Pending[]> {
    this.deps.reporter.update(this.state);
    const submitted = await Promise.all(tasks.map((task) => this.limit(() => this.submit(task))));
    return submitted.filter((p): p is Pending => p !== null);
  }

  private async submit(task: ImageTask): Promise<Pending | null> {
    try {
      // The file's own bytes: re-encoding would change what the model sees.
      const bytes = await readFile(task.path);
      const job = await this.deps.client.startJob(bytes.toString('base64'));
      this.state.submitted++;
      this.deps.reporter.line(`img_name=${task.name}, job_id=${job.job_id}, job_status=${job.job_status}`);
      this.deps.reporter.update(this.state);
      return { ...task, jobId: job.job_id, lastStatus: job.job_status };
    } catch (error) {
      this.fail({ name: task.name, ...describeError(error) });
      return null;
    }
  }

  async pollAll(jobs: Pending[]): Promise<void> {
    this.state.phase = 'poll';
    let pending = jobs;
    for (let round = 1; round <= this.options.nPollings && pending.length > 0; round++) {
      this.state.round = round;
      // A round lasts poll_interval: its polls wait on the proxy (long poll) for whatever is left
      // of it, so a result comes back the moment it is ready; a proxy that ignores `wait`
      // answers at once and the rest of the round is slept, as before.
      const roundEnd = performance.now() + this.options.pollIntervalMs;
      const finished = await Promise.all(pending.map((job) => this.limit(() => this.poll(job, roundEnd))));
      pending = pending.filter((_, i) => !finished[i]);
      this.deps.reporter.update(this.state);
      if (pending.length > 0 && round < this.options.nPollings) await sleep(Math.max(0, roundEnd - performance.now()));
    }
    for (const job of pending) {
      const timedOut: TimedOut = { name: job.name, jobId: job.jobId, lastStatus: job.lastStatus };
      if (job.lastError !== undefined) timedOut.lastError = job.lastError;
      this.result.timedOut.push(timedOut);
    }
  }

  /** One get_job, waiting on the proxy until `roundEnd` at most; true once the job needs no more polling. */
  private async poll(job: Pending, roundEnd: number): Promise<boolean> {
    let view: JobView;
    try {
      view = await this.deps.client.getJob(job.jobId, { waitMs: roundEnd - performance.now() });
    } catch (error) {
      // A 4xx (e.g. the job expired) will not change; a 5xx or a dropped connection may pass.
      if (error instanceof ApiError && !error.retryable) {
        this.fail({ name: job.name, jobId: job.jobId, code: error.code, message: error.message });
        return true;
      }
      job.lastError = describeError(error).message;
      return false;
    }
    job.lastStatus = view.job_status;
    delete job.lastError;
    if (view.status === 'ok' && typeof view.img_out_base64 === 'string') return this.save(job, view.img_out_base64);
    if (view.job_status === 'FAILED') {
      const code = view.error?.code ?? 'JOB_FAILED';
      this.fail({ name: job.name, jobId: job.jobId, code, message: view.error?.message ?? 'the job failed without a reason' });
      return true;
    }
    return false;
  }

  private async save(job: Pending, base64: string): Promise<boolean> {
    const path = join(this.options.outImagesDir, job.outName);
    try {
      await writeFile(path, Buffer.from(base64, 'base64'));
    } catch (error) {
      this.fail({ name: job.name, jobId: job.jobId, code: 'WRITE_FAILED', message: `could not write ${path}: ${describeError(error).message}` });
      return true;
    }
    this.result.succeeded.push({ name: job.name, outName: job.outName, jobId: job.jobId });
    this.state.succeeded++;
    this.deps.reporter.line(`saved ${path} (from ${job.name})`);
    return true;
  }
}

/** request.py's flow: check the proxy, submit every image, poll in rounds, save each cutout when it is ready. */
export async function runRequests(options: RequestOptions, deps: RunDeps): Promise<RunResult> {
  await checkProxy(deps);
  const tasks = await listImages(options.inImagesDir);
  await mkdir(options.outImagesDir, { recursive: true });
  const run = new Run(options, deps, tasks.length);
  try {
    const jobs = await run.submitAll(tasks);
    await run.pollAll(jobs);
  } finally {
    deps.reporter.end();
  }
  return run.result;
}

/** The closing lines: counts first, then one line per image that did not succeed. */
export function formatSummary(result: RunResult, rounds: number): string[] {
  const lines = [
    `summary: ${result.succeeded.length} succeeded, ${result.failed.length} failed, ${result.timedOut.length} timed out (of ${result.total})`,
  ];
  for (const f of result.failed) lines.push(`  failed     ${f.name}: ${f.code} ${f.message}`);
  for (const t of result.timedOut) {
    const why = t.lastError ? `; last error: ${t.lastError}` : '';
    lines.push(`  timed out  ${t.name}: job ${t.jobId} still ${t.lastStatus} after ${rounds} polling rounds${why}`);
  }
  return lines;
}
