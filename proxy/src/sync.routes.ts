import { Router, type Request, type Response } from 'express';
import { AppError, errorBody, fetchImage, type JobRecord, type Lookup, type RequestLocals } from '@cutout/shared';
import { parseJobOptions, statusOf } from '@cutout/shared/contract';
import { ownerOf } from './auth.js';
import { toV1Job } from './job-views.js';
import { reserveBody } from './body-budget.js';
import { imageTooLarge } from './jobs.schema.js';
import { checkRawUpload, type JobService } from './jobs.service.js';
import { bodyQueued, clientGone, noteJob, readCheckedUpload, sendResult, type RequestLimits } from './route-helpers.js';
import { jobPath } from './v1.routes.js';

/** How `GET /api/remove?url=` fetches: FETCH_ALLOW_HOSTS and FETCH_TIMEOUT_MS. */
export interface UrlFetchPolicy {
  allowHosts: ReadonlySet<string>;
  timeoutMs: number;
  /** Name resolution for the URL check (tests give their own). */
  lookup?: Lookup;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

export interface SyncRouteDeps {
  service: JobService;
  limits: RequestLimits;
  /** SYNC_TIMEOUT_MS. */
  timeoutMs: number;
  /** MODEL: rembg clients may name the model; only the one in use can be asked for. */
  model: string;
  /** GET /api/remove?url=; default: no host allowed beyond public addresses, 10 s. */
  fetch?: UrlFetchPolicy;
}

/** rembg's own parameters, mapped to ours; alpha matting is refused, its thresholds only matter with it. */
export function fromRembgFields(fields: Record<string, unknown>, model: string): Record<string, unknown> {
  const { om, bgc, ppm, model: asked, a, af: _af, ab: _ab, ae: _ae, ...rest } = fields;
  if (asked !== undefined && asked !== model && !model.startsWith(`${String(asked)}:`)) {
    throw new AppError(400, 'INVALID_OPTION', `model ${JSON.stringify(String(asked).slice(0, 40))} is not served here; this server runs ${JSON.stringify(model)} (leave model out)`);
  }
  if (a !== undefined && !['false', '0', false].includes(a as string | boolean)) {
    throw new AppError(400, 'INVALID_OPTION', 'alpha matting (a=true) is not supported; leave a out');
  }
  return {
    ...rest,
    ...(om === undefined ? {} : { only_mask: om }),
    ...(bgc === undefined ? {} : { bgcolor: bgc }),
    ...(ppm === undefined ? {} : { post_process_mask: ppm }),
  };
}

/** A failed job answered synchronously: the status its code carries, the error as the body. */
function sendFailure(res: Response, record: JobRecord): void {
  const error = record.error ?? { code: 'INTERNAL', message: 'the job failed without a recorded reason; submit it again' };
  (res.locals as RequestLocals).errorCode = error.code;
  res.setHeader('Location', jobPath(record.id));
  res.status(statusOf(error.code)).json(errorBody(error.code, error.message));
}

/**
 * POST /v1/remove and rembg's POST /api/remove: a real job through the queue (admission control,
 * retries and no-loss apply), answered with its bytes once done. A client that leaves does not
 * cancel it; past the timeout the answer says where the job is, so nothing is lost.
 */
export function syncRoutes(deps: SyncRouteDeps): Router {
  const { service, limits, timeoutMs } = deps;
  const router = Router();

  const run = async (req: Request, res: Response, upload: Awaited<ReturnType<typeof readCheckedUpload>>) => {
    const owner = ownerOf(res);
    const started = await service.submit(upload.upload, { requestId: (res.locals as RequestLocals).requestId, owner, options: upload.options });
    noteJob(res, started.jobId);
    bodyQueued(res);
    const record = await service.awaitEnd(started.jobId, owner, timeoutMs, clientGone(res));
    return record;
  };

  router.post('/v1/remove', async (req: Request, res: Response) => {
    const record = await run(req, res, await readCheckedUpload(req, res, limits));
    if (res.writableEnded || res.destroyed) return;
    if (record.status === 'SUCCEEDED') return sendResult(req, res, await service.result(record.id, ownerOf(res)));
    if (record.status === 'FAILED') return sendFailure(res, record);
    res.status(202).location(jobPath(record.id)).json(toV1Job(record));
  });

  /** rembg's answer: the PNG once done; past the timeout 503 with where the job is. */
  const answerRembg = async (req: Request, res: Response, record: JobRecord) => {
    if (res.writableEnded || res.destroyed) return;
    if (record.status === 'SUCCEEDED') return sendResult(req, res, await service.result(record.id, ownerOf(res)));
    if (record.status === 'FAILED') return sendFailure(res, record);
    res.setHeader('Location', jobPath(record.id));
    res.setHeader('Retry-After', '1');
    throw new AppError(503, 'SYNC_TIMEOUT', `the cutout was not ready within ${timeoutMs} ms (SYNC_TIMEOUT_MS); the job goes on: fetch it from ${jobPath(record.id)}/result`);
  };

  router.post('/api/remove', async (req: Request, res: Response) => {
    const upload = await readCheckedUpload(req, res, limits, ['multipart'], (fields) => fromRembgFields(fields, deps.model));
    await answerRembg(req, res, await run(req, res, upload));
  });

  // rembg's "Remove from URL": the image is fetched under the rules of callback URLs (CONTRACT
  // §13), then goes through the queue as an upload would, with the same answers.
  const fetchPolicy = deps.fetch ?? { allowHosts: new Set<string>(), timeoutMs: DEFAULT_FETCH_TIMEOUT_MS };
  router.get('/api/remove', async (req: Request, res: Response) => {
    const { url, ...fields } = req.query as Record<string, unknown>;
    if (typeof url !== 'string' || url === '') {
      throw new AppError(400, 'MISSING_IMAGE', 'GET /api/remove needs the image\'s address once, as ?url=<http(s) URL> (or POST the file as multipart field "file")');
    }
    // Options first: a bad option costs nothing to report, and is the likelier mistake.
    const options = parseJobOptions(fromRembgFields(fields, deps.model));
    // A fetched image is held as an uploaded one is: it counts against BODY_BUDGET_BYTES (at its
    // most, since its size shows only as it arrives) until it is queued.
    reserveBody(res, limits.budget, limits.maxImageBytes);
    const bytes = await fetchImage(url, {
      allowHosts: fetchPolicy.allowHosts,
      timeoutMs: fetchPolicy.timeoutMs,
      maxBytes: limits.maxImageBytes,
      tooLarge: (size) => imageTooLarge(limits.maxImageBytes, size),
      signal: clientGone(res),
      ...(fetchPolicy.lookup ? { lookup: fetchPolicy.lookup } : {}),
    });
    const upload = checkRawUpload({ kind: 'bytes', bytes, fields: {} }, limits);
    await answerRembg(req, res, await run(req, res, { upload, options }));
  });

  return router;
}
