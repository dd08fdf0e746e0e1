import { Pool, type Dispatcher } from 'undici';
import { DEFAULT_JOB_OPTIONS, optionsToQuery, outputMediaType, type OutputOptions } from '@cutout/shared/contract';
import { errorMessage, LinkedAbort } from '@cutout/shared';
import { PredictBadOutputError, PredictError, PredictFailedError, PredictRejectedError, PredictTimeoutError, PredictUnavailableError } from './predict.errors.js';
import { checkPredictOutput } from './output-check.js';
import { predictStageTimings, type PredictStageTimings } from './server-timing.js';

export interface PredictClientOptions {
  /** One or more predict servers; calls start at the next one in turn and fail over in order. */
  urls: readonly string[];
  /** One call's total deadline, from sending the request to the last byte of the answer (PREDICT_TIMEOUT_MS). */
  timeoutMs: number;
  /** Keep-alive connections per server: about the number of jobs run at once. */
  connections: number;
  /** Deadline for one `GET /health`; defaults to the smaller of timeoutMs and 5 s. */
  healthTimeoutMs?: number;
  /** PREDICT_TOKEN, sent on every call when set. */
  token?: string;
}

export interface PredictCallOptions {
  /** Aborts the call (shutdown); the rejection is the signal's reason, not a PredictError. */
  signal?: AbortSignal;
  /** The job's output options; predict produces that form. Default: the RGBA PNG. */
  options?: OutputOptions;
  /** The input's header facts (as the proxy recorded them): the answer must be an image of that size. */
  input?: { format: string; width: number; height: number };
}

/** A cutout and predict's own account of where its time went. */
export interface PredictOutput {
  /** The output in the form the options asked for (PNG unless format=webp). */
  bytes: Buffer;
  /** From predict's Server-Timing header; empty when it sent none. */
  timings: PredictStageTimings;
}

export interface PredictServerHealth {
  url: string;
  ok: boolean;
  /** HTTP status, or null when the server could not be reached. */
  status: number | null;
  detail: string;
}

/**
 * Errors raised before any byte of the request can have reached the server: only then may the
 * call move on to the next one. A reset after the request went out means the server took it
 * (and may have crashed on it): trying every other server at once would let one poison image
 * take all of them down, so that is the attempt's own failure, retried later with backoff.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Marks an attempt that should move on to the next server. */
class Unreachable {
  constructor(readonly reason: string) {}
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function firstHeader(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Reads predict's `{"error":{"code","message"}}`; code is null when the body is not that shape. */
async function readProblem(body: Dispatcher.ResponseData['body']): Promise<{ code: string | null; message: string }> {
  const text = await body.text();
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = parsed.error?.code;
    const message = parsed.error?.message;
    if (typeof code === 'string' && code !== '') return { code, message: typeof message === 'string' ? message : code };
  } catch {
    // not JSON: fall through and quote it
  }
  return { code: null, message: text.slice(0, 200).trim() };
}

/**
 * The body into one Buffer of its Content-Length, copied in as the chunks arrive: a 40 MB cutout
 * is then held once, not as its chunks and their concatenation at the same time.
 */
async function readBytes(body: Dispatcher.ResponseData['body'], contentLength: string, url: string): Promise<Buffer> {
  const length = Number(contentLength);
  if (contentLength === '' || !Number.isSafeInteger(length) || length < 0) return Buffer.from(await body.arrayBuffer());
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (at + chunk.length > length) throw new PredictFailedError(`predict at ${url} sent more than its Content-Length of ${length} bytes`, 200);
    chunk.copy(out, at);
    at += chunk.length;
  }
  if (at !== length) throw new PredictFailedError(`predict at ${url} sent ${at} of its ${length} bytes`, 200);
  return out;
}

/** The outcome of a response, once its status is known. The body is always read or destroyed. */
async function readPredictResponse(res: Dispatcher.ResponseData, url: string, expectedType: string): Promise<PredictOutput | Unreachable> {
  const { statusCode, headers, body } = res;
  try {
    if (statusCode === 200) {
      const type = firstHeader(headers['content-type']);
      if (!type.startsWith(expectedType)) {
        throw new PredictBadOutputError(`predict at ${url} answered 200 with content type "${type}" instead of ${expectedType}; the answer was not stored`);
      }
      const bytes = await readBytes(body, firstHeader(headers['content-length']), url);
      return { bytes, timings: predictStageTimings(headers['server-timing']) };
    }
    const problem = await readProblem(body);
    // 503 is predict still loading its model, 429 predict full: a sibling server may take it.
    if (statusCode === 503 || statusCode === 429) return new Unreachable(`${url} answered ${statusCode} ${problem.code ?? ''} ${problem.message}`.trim());
    if (statusCode >= 400 && statusCode < 500 && problem.code !== null) {
      throw new PredictRejectedError(problem.code, problem.message, statusCode);
    }
    const said = problem.message === '' ? '' : `: ${problem.message}`;
    throw new PredictFailedError(`predict at ${url} answered ${statusCode}${said}`, statusCode);
  } finally {
    // A body left unread is dropped; its stream may still report the abort (our deadline firing
    // later), which nothing else listens for.
    if (!body.bodyUsed) body.on('error', () => undefined).destroy();
  }
}

/**
 * Calls predict's raw fast path (`POST /predict`, image bytes in, PNG bytes out) over one
 * keep-alive pool per server.
 */
export class PredictClient {
  readonly urls: readonly string[];
  readonly #pools: Pool[];
  readonly #timeoutMs: number;
  readonly #healthTimeoutMs: number;
  readonly #auth: Record<string, string>;
  #next = 0;
  #closing: Promise<void> | null = null;

  constructor(options: PredictClientOptions) {
    if (options.urls.length === 0) throw new Error('PredictClient needs at least one predict URL');
    if (!(options.timeoutMs > 0)) throw new Error(`PredictClient timeoutMs must be positive, got ${options.timeoutMs}`);
    if (!Number.isInteger(options.connections) || options.connections < 1) {
      throw new Error(`PredictClient connections must be a whole number from 1, got ${options.connections}`);
    }
    this.urls = [...options.urls];
    this.#timeoutMs = options.timeoutMs;
    this.#healthTimeoutMs = options.healthTimeoutMs ?? Math.min(options.timeoutMs, 5_000);
    this.#auth = options.token ? { 'x-predict-token': options.token } : {};
    this.#pools = this.urls.map(
      (url) => new Pool(url, { connections: options.connections, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs }),
    );
  }

  /** The cutout PNG for one image. Throws a PredictError subclass (or the signal's reason when aborted). */
  async predict(jobId: string, imageBytes: Buffer, options: PredictCallOptions = {}): Promise<PredictOutput> {
    if (this.#closing) throw new PredictUnavailableError('the predict client is closed');
    const start = this.#next;
    this.#next = (this.#next + 1) % this.urls.length;
    const reasons: string[] = [];
    for (let i = 0; i < this.urls.length; i++) {
      const index = (start + i) % this.urls.length;
      const outcome = await this.#attempt(index, jobId, imageBytes, options);
      if (!(outcome instanceof Unreachable)) return outcome;
      reasons.push(outcome.reason);
    }
    throw new PredictUnavailableError(`no predict server answered: ${reasons.join('; ')}`);
  }

  async #attempt(index: number, jobId: string, imageBytes: Buffer, call: PredictCallOptions): Promise<PredictOutput | Unreachable> {
    const url = this.urls[index]!;
    const { signal } = call;
    const options = call.options ?? DEFAULT_JOB_OPTIONS;
    // One deadline for the whole call: undici's header and body timeouts restart with every byte,
    // so a predict that trickles its answer would otherwise hold the job (and its lease) forever.
    const deadline = new LinkedAbort([signal], this.#timeoutMs);
    try {
      const res = await this.#pools[index]!.request({
        path: `/predict${optionsToQuery(options)}`,
        method: 'POST',
        body: imageBytes,
        headers: { 'content-type': 'application/octet-stream', 'x-request-id': jobId, 'x-job-id': jobId, ...this.#auth },
        signal: deadline.signal,
      });
      const output = await readPredictResponse(res, url, outputMediaType(options.format));
      if (!(output instanceof Unreachable) && call.input) checkPredictOutput(output.bytes, options.format, call.input, url);
      return output;
    } catch (error) {
      if (error instanceof PredictError) throw error;
      if (signal?.aborted) throw signal.reason;
      if (deadline.timedOut) throw new PredictTimeoutError(`predict at ${url} did not finish answering within ${this.#timeoutMs} ms (PREDICT_TIMEOUT_MS)`);
      const code = errorCode(error);
      const detail = errorMessage(error);
      if (code !== undefined && TIMEOUT_CODES.has(code)) {
        throw new PredictTimeoutError(`predict at ${url} did not answer within ${this.#timeoutMs} ms (${detail})`);
      }
      if (code !== undefined && UNREACHABLE_CODES.has(code)) return new Unreachable(`${url}: ${detail}`);
      throw new PredictFailedError(`calling predict at ${url} failed: ${detail}`);
    } finally {
      deadline.dispose();
    }
  }

  /** `GET /health` of every server, in the order of `urls`; never throws. */
  async health(): Promise<PredictServerHealth[]> {
    return Promise.all(this.urls.map((url, index) => this.#healthOf(url, this.#pools[index]!)));
  }

  async #healthOf(url: string, pool: Pool): Promise<PredictServerHealth> {
    if (this.#closing) return { url, ok: false, status: null, detail: 'the predict client is closed' };
    try {
      const { statusCode, body } = await pool.request({
        path: '/health',
        method: 'GET',
        headersTimeout: this.#healthTimeoutMs,
        bodyTimeout: this.#healthTimeoutMs,
      });
      const text = await body.text();
      let health: unknown;
      try {
        health = (JSON.parse(text) as { health?: unknown }).health;
      } catch {
        health = undefined;
      }
      const ok = statusCode === 200 && health === 'ok';
      return { url, ok, status: statusCode, detail: typeof health === 'string' ? health : text.slice(0, 200) };
    } catch (error) {
      return { url, ok: false, status: null, detail: errorMessage(error) };
    }
  }

  /** Closes every pool (waiting for requests still running); safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled(this.#pools.map((pool) => pool.close())).then(() => undefined);
    return this.#closing;
  }
}

export function createPredictClient(options: PredictClientOptions): PredictClient {
  return new PredictClient(options);
}
