import { Agent, request } from 'undici';
import type { GetJobResponse } from '@cutout/shared/contract';
import type { BenchImage } from './images.js';
import { mean, rate, round, summarize, type LatencySummary } from './stats.js';
import { errorMessage } from '@cutout/shared';

/** How results were read: the proxy's long poll, or polling when the proxy ignores `?wait`. */
export type ReadMode = 'long-poll' | 'polling';

export interface LoadOptions {
  proxyUrl: string;
  images: readonly BenchImage[];
  concurrency: number;
  /** Jobs to measure (after the warm-up); fewer when maxMs runs out first. */
  jobs: number;
  /** No new job is submitted after this long; jobs in flight still finish. */
  maxMs: number;
  warmupJobs: number;
  /** Interval between get_job calls when polling. */
  pollMs?: number;
  /** How to read results: the long poll (default; polling when the proxy ignores `?wait`), or polling like request.py. */
  read?: ReadMode;
  /** Called when the warm-up is over and the measured jobs start. */
  onMeasureStart?: () => void;
}

export interface JobSample {
  latencyMs: number;
  /** The job's `timings` from get_job, or null when the proxy does not report them. */
  timings: Record<string, unknown> | null;
  /** Bytes of the start_job body sent and of the finished get_job answer read. */
  upBytes: number;
  downBytes: number;
}

export interface LoadResult {
  jobs: number;
  failures: number;
  firstFailure: string | undefined;
  wallMs: number;
  jobsPerSecond: number;
  latency: LatencySummary;
  readMode: ReadMode;
  /** Mean bytes per job over HTTP: the start_job body, and the finished get_job answer. */
  meanUpBytes: number;
  meanDownBytes: number;
  /** HTTP requests per measured job: start_job and every get_job, the client's whole traffic. */
  requestsPerJob: number;
  samples: JobSample[];
}

const WAIT_SECONDS = 30;
const FINAL = new Set(['SUCCEEDED', 'FAILED']);

/** What start_job and get_job answer; the bench reads fields without validating, to keep the client cheap. */
type JobAnswer = Partial<GetJobResponse>;

function timingsOf(answer: JobAnswer): Record<string, unknown> | null {
  const raw = typeof answer.timings === 'string' ? (JSON.parse(answer.timings) as unknown) : answer.timings;
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : null;
}

/** Submits jobs and reads them back through the proxy's public API, like a client would. */
class LoadClient {
  readonly agent: Agent;
  readMode: ReadMode = 'long-poll';
  /** Requests sent so far. */
  requests = 0;
  private readonly bodies: Buffer[];

  constructor(private readonly options: LoadOptions) {
    this.readMode = options.read ?? 'long-poll';
    this.agent = new Agent({ connections: options.concurrency + 2, headersTimeout: 120_000, bodyTimeout: 120_000 });
    // The JSON bodies are built once, so the bench's own base64 work is not part of the measurement.
    this.bodies = options.images.map((image) => Buffer.from(JSON.stringify({ image: image.bytes.toString('base64') })));
  }

  private async call(method: 'GET' | 'POST', path: string, body?: Buffer): Promise<{ status: number; json: JobAnswer; bytes: number }> {
    this.requests++;
    const res = await request(`${this.options.proxyUrl}${path}`, {
      method,
      dispatcher: this.agent,
      ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: JSON.parse(text) as JobAnswer, bytes: text.length };
  }

  /** One job from submit to result; resolves with its sample or throws with what went wrong. */
  async job(index: number): Promise<JobSample> {
    const started = performance.now();
    const body = this.bodies[index % this.bodies.length]!;
    const submitted = await this.call('POST', '/start_job', body);
    const id = submitted.json.job_id;
    if (submitted.status !== 200 || typeof id !== 'string') throw new Error(`start_job answered ${submitted.status}: ${JSON.stringify(submitted.json).slice(0, 200)}`);
    const { json: answer, bytes } = await this.result(id);
    const latencyMs = performance.now() - started;
    if (answer.job_status !== 'SUCCEEDED' || answer.status !== 'ok' || !answer.img_out_base64) {
      throw new Error(`job ${id} ended ${answer.job_status}: ${answer.error?.code ?? ''} ${answer.error?.message ?? ''}`);
    }
    return { latencyMs, timings: timingsOf(answer), upBytes: body.length, downBytes: bytes };
  }

  private async result(id: string): Promise<{ json: JobAnswer; bytes: number }> {
    for (;;) {
      const asked = performance.now();
      const path = this.readMode === 'long-poll' ? `/get_job/${id}?wait=${WAIT_SECONDS}` : `/get_job/${id}`;
      const { status, json, bytes } = await this.call('GET', path);
      if (status === 400 && this.readMode === 'long-poll') {
        this.readMode = 'polling';
        continue;
      }
      if (status !== 200) throw new Error(`get_job ${id} answered ${status}: ${JSON.stringify(json).slice(0, 200)}`);
      if (FINAL.has(json.job_status ?? '')) return { json, bytes };
      // An unfinished answer long before the wait ran out: this proxy ignores `?wait`.
      if (this.readMode === 'long-poll' && performance.now() - asked < WAIT_SECONDS * 500) this.readMode = 'polling';
      if (this.readMode === 'polling') await new Promise((r) => setTimeout(r, this.options.pollMs ?? 2));
    }
  }

  /** Runs `jobs` jobs with at most `concurrency` in flight, stopping new ones at the deadline. */
  async run(jobs: number, deadline: number): Promise<{ samples: JobSample[]; failures: string[] }> {
    const samples: JobSample[] = [];
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs && performance.now() < deadline) {
        const index = next++;
        try {
          samples.push(await this.job(index));
        } catch (error) {
          failures.push(errorMessage(error));
        }
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency }, worker));
    return { samples, failures };
  }
}

/** A warm-up, then the measured jobs: throughput and latency from submit to result. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const client = new LoadClient(options);
  try {
    await client.run(options.warmupJobs, Number.POSITIVE_INFINITY);
    options.onMeasureStart?.();
    const requestsBefore = client.requests;
    const started = performance.now();
    const { samples, failures } = await client.run(options.jobs, started + options.maxMs);
    const wallMs = performance.now() - started;
    return {
      jobs: samples.length,
      failures: failures.length,
      firstFailure: failures[0],
      wallMs: round(wallMs, 1),
      jobsPerSecond: rate(samples.length, wallMs),
      latency: summarize(samples.map((s) => s.latencyMs)),
      readMode: client.readMode,
      meanUpBytes: Math.round(mean(samples.map((s) => s.upBytes))),
      meanDownBytes: Math.round(mean(samples.map((s) => s.downBytes))),
      requestsPerJob: round((client.requests - requestsBefore) / Math.max(1, samples.length), 2),
      samples,
    };
  } finally {
    await client.agent.close();
  }
}
