import { Agent, request } from 'undici';
import type { JobStatus } from '@cutout/shared';
import { GetJobResponseSchema, StartJobResponseSchema, type GetJobResponse, type StartJobResponse } from '@cutout/shared/contract';

export type { JobStatus };
/** GET /get_job's answer, as the contract declares it. */
export type JobView = Pick<GetJobResponse, 'status' | 'job_id' | 'job_status' | 'img_out_base64' | 'error' | 'timings'>;
export type StartedJob = StartJobResponse;

/** What the CLI reads of a get_job answer: the contract's fields it uses (request.py reads no more). */
const JobAnswerSchema = GetJobResponseSchema.pick({ status: true, job_id: true, job_status: true, img_out_base64: true, error: true, timings: true });

/** "without a job_id; without a job_status; with an invalid status", one part per problem zod found. */
function whatIsWrong(issues: ReadonlyArray<{ path: PropertyKey[]; input?: unknown }>): string {
  return issues.map((issue) => `${issue.input === undefined ? 'without a' : 'with an invalid'} ${String(issue.path[0] ?? 'body')}`).join('; ');
}

/** The proxy could not be reached at all (refused, unknown host, timed out). */
export class ProxyUnreachableError extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach the proxy at ${baseUrl} (${reason})`);
    this.name = 'ProxyUnreachableError';
  }
}

/** The proxy answered with a status other than 200; `code` is its stable error code when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get retryable(): boolean {
    return this.status >= 500;
  }
}

export interface Exchange {
  method: string;
  path: string;
  status: number | null;
  ms: number;
  /** The answer with every base64 image replaced by its length, for --debug. */
  summary: string;
}

export interface ProxyClientOptions {
  baseUrl: string;
  /** Per request, headers and body each; a 20 MiB upload on a slow link needs minutes, not seconds. */
  timeoutMs?: number;
  /** Sockets kept open to the proxy; match the CLI's concurrency. */
  connections?: number;
  onExchange?: (exchange: Exchange) => void;
}

/** The proxy's longest `?wait=`. */
export const MAX_WAIT_MS = 30_000;

const IMAGE_FIELDS = /^(img_in_base64|img_out_base64|img_none_bg_base64|image)$/;

function summarize(body: unknown): string {
  return JSON.stringify(body, (key, value: unknown) =>
    IMAGE_FIELDS.test(key) && typeof value === 'string' ? `<${value.length} base64 chars>` : value,
  );
}

function reasonOf(error: unknown): string {
  const err = error as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const message = typeof err.message === 'string' ? err.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** The proxy's job API: health, metadata, start_job, get_job. */
export class ProxyClient {
  readonly baseUrl: string;
  private readonly agent: Agent;
  private readonly onExchange: ((exchange: Exchange) => void) | undefined;
  private closed = false;

  constructor(options: ProxyClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const timeout = options.timeoutMs ?? 300_000;
    this.agent = new Agent({ connections: options.connections ?? 4, headersTimeout: timeout, bodyTimeout: timeout, connectTimeout: 10_000 });
    this.onExchange = options.onExchange;
  }

  /** GET /health: the status code and body, whatever they are; unreachable proxies throw. */
  async health(): Promise<{ status: number; body: unknown }> {
    return this.call('GET', '/health');
  }

  async metadata(): Promise<unknown> {
    return this.ok(await this.call('GET', '/metadata'));
  }

  async startJob(imageBase64: string): Promise<StartedJob> {
    const body = this.ok(await this.call('POST', '/start_job', { image: imageBase64 }));
    const parsed = StartJobResponseSchema.safeParse(body);
    if (!parsed.success) throw new ApiError(200, 'BAD_ANSWER', `start_job answered ${whatIsWrong(parsed.error.issues)}: ${summarize(body)}`);
    return parsed.data;
  }

  /**
   * GET /get_job. With `waitMs`, a long poll: the proxy answers as soon as the job ends, or after
   * the wait with its current state (up to 30 s; a proxy without long polls answers at once).
   */
  async getJob(jobId: string, options: { waitMs?: number } = {}): Promise<JobView> {
    const waitMs = Math.min(Math.round(options.waitMs ?? 0), MAX_WAIT_MS);
    const query = waitMs >= 1 ? `?wait=${waitMs / 1000}` : '';
    const body = this.ok(await this.call('GET', `/get_job/${encodeURIComponent(jobId)}${query}`));
    // Checked against the contract, so a proxy that answers something else is named, not misread.
    const parsed = JobAnswerSchema.safeParse(body);
    if (!parsed.success) throw new ApiError(200, 'BAD_ANSWER', `get_job answered ${whatIsWrong(parsed.error.issues)}: ${summarize(body).slice(0, 300)}`);
    return parsed.data;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  private ok(answer: { status: number; body: unknown }): unknown {
    if (answer.status === 200) return answer.body;
    const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : `HTTP_${answer.status}`;
    const message = typeof error?.message === 'string' ? error.message : `the proxy answered ${answer.status}: ${summarize(answer.body).slice(0, 200)}`;
    throw new ApiError(answer.status, code, message);
  }

  private async call(method: 'GET' | 'POST', path: string, json?: unknown): Promise<{ status: number; body: unknown }> {
    const started = performance.now();
    let status: number | null = null;
    let body: unknown;
    try {
      const res = await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.agent,
        headers: json === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
      });
      status = res.statusCode;
      const text = await res.body.text();
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status, body };
    } catch (error) {
      // Refused, reset mid-answer or timed out: the caller cannot tell these apart and retries alike.
      throw new ProxyUnreachableError(this.baseUrl, reasonOf(error));
    } finally {
      this.onExchange?.({ method, path, status, ms: Math.round(performance.now() - started), summary: status === null ? '' : summarize(body) });
    }
  }
}
