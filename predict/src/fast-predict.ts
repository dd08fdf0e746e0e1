import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { AppError, JOB_ID_PATTERN, errorBody, mediaTypeOf, RAW_IMAGE_TYPES, tagRoute, type Logger } from '@cutout/shared';
import type { HttpMetrics } from '@cutout/shared/metrics';
import { DEFAULT_JOB_OPTIONS, parseOutputOptions } from '@cutout/shared/contract';
import { removeBackground } from './pipeline/remove-background.js';
import { serverTiming, type PredictRouteDeps } from './predict.routes.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const RAW_TYPES: ReadonlySet<string> = new Set([...RAW_IMAGE_TYPES, 'application/octet-stream']);

export interface FastPredictDeps extends PredictRouteDeps {
  logger: Logger;
  /** Records the request under route /predict, as express would. */
  http?: HttpMetrics;
}

/**
 * True for the request batch sends on every job: POST /predict with the raw image, its length
 * declared and within the limit, plain encoding, and the model loaded. Everything else (JSON
 * bodies, odd types, errors the body parsers find) goes through express as before.
 */
function isFastCase(req: IncomingMessage, deps: FastPredictDeps): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  if (!(url === '/predict' || url.startsWith('/predict?'))) return false;
  if (!RAW_TYPES.has(mediaTypeOf(req))) return false;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const length = Number(req.headers['content-length']);
  return Number.isInteger(length) && length > 0 && length <= deps.maxImageBytes && deps.model() !== undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // A client that went away gets no answer; there is nobody to send it to.
    req.on('error', () => resolve(null));
    req.on('aborted', () => resolve(null));
  });
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length, ...extra });
  res.end(body);
}

/**
 * POST /predict on node's http alone: express's router, middleware chain and body parser cost
 * about a third of predict's CPU on a tiny image. Same answers, headers, errors and access log
 * line as the express route (predict.routes.ts). Returns false when the request is not its case.
 */
export function createFastPredict(deps: FastPredictDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const encoding = { pngCompression: deps.pngCompression };
  return (req, res) => {
    if (!isFastCase(req, deps)) return false;
    void handle(req, res);
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    const jobHeader = req.headers['x-job-id'];
    const jobId = typeof jobHeader === 'string' && JOB_ID_PATTERN.test(jobHeader) ? jobHeader : undefined;
    const headers = { 'X-Request-Id': requestId };
    tagRoute(res, '/predict', requestId);
    let errorCode: string | undefined;
    const bytes = await readBody(req);
    if (!bytes) return void res.destroy();
    try {
      // batch sends no query for the default options (optionsToQuery): no schema to run then.
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const options = q === -1 ? DEFAULT_JOB_OPTIONS : parseOutputOptions(parseQuery(url.slice(q + 1)));
      const result = await removeBackground(bytes, deps.model()!, { maxImagePixels: deps.maxImagePixels, batcher: deps.batcher?.(), output: options, encoding });
      deps.stageMetrics?.observe(result.timings);
      send(res, 200, result.mediaType, result.bytes, { ...headers, 'Server-Timing': serverTiming(result.timings) });
    } catch (error) {
      const known = error instanceof AppError ? error : null;
      errorCode = known?.code ?? 'INTERNAL';
      if (!known) deps.logger.error('unhandled error', { request_id: requestId, job_id: jobId, error });
      const body = known ? errorBody(known.code, known.message) : errorBody('INTERNAL', 'something went wrong on our side; try again, and quote the request id if it persists', requestId);
      send(res, known?.status ?? 500, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(body)), headers);
    }
    deps.http?.observe('/predict', res.statusCode, started);
    if (deps.logger.isInfoEnabled()) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const path = req.url ?? '';
      deps.logger.info('request', {
        request_id: requestId,
        job_id: jobId,
        method: req.method,
        path: path.length > 200 ? `${path.slice(0, 200)}…` : path,
        status: res.statusCode,
        error_code: errorCode,
        duration_ms: Math.round(ms * 100) / 100,
        bytes_in: bytes.length,
      });
    }
  }
}
