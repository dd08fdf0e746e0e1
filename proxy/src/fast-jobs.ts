import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { AppError, errorBody, internalErrorBody, invalidJson, mediaTypeOf, requestIdFrom, tagRoute, type Logger } from '@cutout/shared';
import type { HttpMetrics } from '@cutout/shared/metrics';
import { authenticate, type Keyring, type Owner } from './auth.js';
import { reserveBody } from './body-budget.js';
import type { BodyLimits } from './body-source.js';
import { imagesCap } from './jobs.schema.js';
import { serveGetJob, startJob } from './jobs.routes.js';
import type { JobService } from './jobs.service.js';

export interface FastJobsDeps {
  service: JobService;
  keyring: Keyring;
  logger: Logger;
  /** MAX_IMAGE_BYTES, MAX_REQUEST_BYTES and the body budget, as the express routes have them. */
  body: BodyLimits;
  /** Retry-After seconds by error code, as the express chain sends them (app.ts). */
  retryAfter: Readonly<Record<string, number>>;
  /** cutout_http_request_duration_seconds, under the route patterns express would report. */
  http?: HttpMetrics;
}

/** What one request of the fast lane carries to its access-log line. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The route pattern express would report for it (the metrics label). */
  route: string;
  started: bigint;
  requestId: string;
  owner: Owner;
  jobId?: string;
  errorCode?: string;
}

/**
 * A get_job path whose id needs no decoding and a start_job path, as express's routes would match
 * them; anything else (other case, a trailing slash, percent-escapes) is left to express, which
 * answers it as before.
 */
const GET_JOB_PATH = /^\/get_job\/([A-Za-z0-9-]{1,64})$/;

/** `{"image":"<base64, maybe a data URL>"}` with nothing JSON.parse would change: the string is the bytes between the quotes. */
const PLAIN_START_JOB = /^\{[ \t\n\r]*"image"[ \t\n\r]*:[ \t\n\r]*"([A-Za-z0-9+/=_:;,.-]*)"[ \t\n\r]*\}[ \t\n\r]*$/;

function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** A JSON body express's json parser would read without help: no compression, UTF-8, length declared and within the limit. */
function isPlainJsonBody(req: IncomingMessage, limit: number): boolean {
  if (mediaTypeOf(req) !== 'application/json') return false;
  const charset = /;\s*charset=("?)([^";]*)\1/i.exec(req.headers['content-type'] ?? '');
  if (charset && charset[2]!.toLowerCase() !== 'utf-8') return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(req.headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= limit;
}

/** express's weak ETag of a body (the `etag` package: length in hex and SHA-1 in base64). */
function weakEtag(body: Buffer): string {
  return `W/"${body.length.toString(16)}-${createHash('sha1').update(body).digest('base64').slice(0, 27)}"`;
}

/** An answer as express's res.json writes it: the same headers, in the same order, and bytes. */
function sendJson(res: ServerResponse, status: number, value: unknown, head: boolean): void {
  const body = Buffer.from(JSON.stringify(value));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(body.length));
  res.setHeader('ETag', weakEtag(body));
  res.end(head ? undefined : body);
}

/** The whole body of a request whose length is declared; null when the client went away first. */
function readBody(req: IncomingMessage, length: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const body = Buffer.allocUnsafe(length);
    let filled = 0;
    req.on('data', (chunk: Buffer) => {
      // Node's parser never delivers more than Content-Length; the check only guards the copy.
      filled += chunk.copy(body, filled);
    });
    req.on('end', () => resolve(filled === length ? body : null));
    req.on('error', () => resolve(null));
    req.on('aborted', () => resolve(null));
  });
}

/** The body as express.json({ strict: false }) would give it; 400 INVALID_JSON when it is not JSON. */
function parseStartJobBody(body: Buffer): unknown {
  // A huge upload in the plain form is read straight from the bytes: no JSON text of the whole body.
  const plain = body[0] === 0x7b ? PLAIN_START_JOB.exec(body.toString('latin1')) : null;
  if (plain) return { image: plain[1] };
  // body-parser decodes UTF-8 with iconv-lite, which drops a byte-order mark.
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  try {
    return JSON.parse(body.toString('utf8', start));
  } catch {
    throw invalidJson();
  }
}

/**
 * POST /start_job and GET /get_job/:id on node's http alone, ahead of express: its app setup,
 * middleware chain, router and res.json cost more than the work of a tiny job's poll. Same answers,
 * headers, errors (Retry-After, WWW-Authenticate), auth and access-log line as the express routes
 * (jobs.routes.ts, which share the work through startJob and serveGetJob). Returns false when the
 * request is not one it takes; express answers it.
 */
export function createFastJobs(deps: FastJobsDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const bodyLimit = imagesCap(deps.body).bytes;
  return (req, res) => {
    const method = req.method;
    const { path, query } = splitUrl(req.url ?? '');
    if (method === 'GET' || method === 'HEAD') {
      const match = GET_JOB_PATH.exec(path);
      if (!match) return false;
      const exchange = begin(req, res, '/get_job/:job_id');
      if (!exchange) return true;
      void getJob(exchange, match[1]!, query, method === 'HEAD').catch((error: unknown) => fail(exchange, error));
      return true;
    }
    if (method === 'POST' && path === '/start_job' && isPlainJsonBody(req, bodyLimit)) {
      const exchange = begin(req, res, '/start_job');
      if (!exchange) return true;
      void start(exchange).catch((error: unknown) => fail(exchange, error));
      return true;
    }
    return false;
  };

  /** The request id, the access log, auth; null when the request was already answered (401). */
  function begin(req: IncomingMessage, res: ServerResponse, route: string): Exchange | null {
    const given = req.headers['x-request-id'];
    const exchange: Exchange = { req, res, route, started: process.hrtime.bigint(), requestId: requestIdFrom(Array.isArray(given) ? given[0] : given), owner: null };
    res.setHeader('X-Request-Id', exchange.requestId);
    tagRoute(res, route, exchange.requestId);
    res.once('finish', () => finished(exchange));
    if (!deps.keyring.enabled) return exchange;
    const name = authenticate(deps.keyring, req.headers, res);
    if (name instanceof AppError) {
      // The body of a refused upload is not wanted; node reads it away to keep the connection.
      fail(exchange, name);
      return null;
    }
    exchange.owner = name;
    return exchange;
  }

  async function getJob(exchange: Exchange, rawId: string, query: string, head: boolean): Promise<void> {
    const wait = query === '' ? undefined : parseQuery(query).wait;
    await serveGetJob(deps.service, exchange.res, rawId, wait, exchange.owner, head, (id) => (exchange.jobId = id));
  }

  async function start(exchange: Exchange): Promise<void> {
    const length = Number(exchange.req.headers['content-length']);
    // A tiny body does not ask the budget (reserveBody returns at once); a large one waits its turn.
    reserveBody(exchange.res, deps.body.budget, length);
    const body = await readBody(exchange.req, length);
    if (body === null) return void exchange.res.destroy();
    const answer = await startJob(deps.service, parseStartJobBody(body), exchange.requestId, exchange.owner);
    exchange.jobId = answer.job_id;
    sendJson(exchange.res, 200, answer, false);
  }

  /** errorHandler's answer (shared/src/http/error-handler.ts) with the app's Retry-After. */
  function fail(exchange: Exchange, error: unknown): void {
    const { res } = exchange;
    if (res.headersSent) return void res.destroy();
    const head = exchange.req.method === 'HEAD';
    if (error instanceof AppError) {
      const seconds = deps.retryAfter[error.code];
      if (seconds !== undefined) res.setHeader('Retry-After', String(seconds));
      exchange.errorCode = error.code;
      sendJson(res, error.status, errorBody(error.code, error.message), head);
      return;
    }
    exchange.errorCode = 'INTERNAL';
    deps.logger.error('unhandled error', { request_id: exchange.requestId, job_id: exchange.jobId, error });
    sendJson(res, 500, internalErrorBody(exchange.requestId), head);
  }

  /** Every answer of the fast lane ends here: its HTTP histogram sample and the access-log line (requestContext's fields). */
  function finished(exchange: Exchange): void {
    deps.http?.observe(exchange.route, exchange.res.statusCode, exchange.started);
    if (!deps.logger.isInfoEnabled()) return;
    const { req, res } = exchange;
    const url = req.url ?? '';
    deps.logger.info('request', {
      request_id: exchange.requestId,
      job_id: exchange.jobId,
      method: req.method,
      path: url.length > 200 ? `${url.slice(0, 200)}…` : url,
      status: res.statusCode,
      error_code: exchange.errorCode,
      api_key: exchange.owner ?? undefined,
      duration_ms: Math.round((Number(process.hrtime.bigint() - exchange.started) / 1e6) * 100) / 100,
      bytes_in: Number(req.headers['content-length'] ?? 0),
    });
  }
}
