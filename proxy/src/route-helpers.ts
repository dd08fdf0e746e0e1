import type { Request, Response } from 'express';
import { parseJobOptions, type JobOptions } from '@cutout/shared/contract';
import type { RequestLocals } from '@cutout/shared';
import { checkRawUpload, type CheckedUpload, type JobResult, type UploadLimits } from './jobs.service.js';
import { ifNoneMatchHits } from './etag.js';
import { readUpload, type UploadFormsOptions } from './upload.body.js';
import { releaseBody } from './body-budget.js';
import type { BodyLimits } from './body-source.js';

/** What a route that reads an upload is held to: the image's limits and the body's. */
export type RequestLimits = UploadLimits & BodyLimits;

/** Aborts when the client goes away before its answer was sent ('close' first). */
export function clientGone(res: Response): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  return gone.signal;
}

/** Seconds a client should wait before asking again for a job that is not finished. */
export const NOT_FINISHED_RETRY_AFTER_S = 1;

/** An output as the body, with its type, length and ETag; 304 when the client already has it. */
export function sendResult(req: Request, res: Response, result: JobResult): void {
  res.setHeader('ETag', result.etag);
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  if (ifNoneMatchHits(req.get('if-none-match'), result.etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type(result.mediaType).setHeader('Content-Length', String(result.bytes.length));
  res.end(result.bytes);
}

/** An upload in any of its forms, checked, with its options; throws the 4xx that fits. */
export async function readCheckedUpload(
  req: Request,
  res: Response,
  limits: RequestLimits,
  forms?: UploadFormsOptions['forms'],
  mapFields: (fields: Record<string, unknown>) => Record<string, unknown> = (f) => f,
): Promise<{ upload: CheckedUpload; options: JobOptions }> {
  const raw = await readUpload(req, res, { limits, ...(forms ? { forms } : {}) });
  // Options first: a bad option costs nothing to report, and is the likelier mistake.
  const options = parseJobOptions(mapFields(raw.fields));
  return { upload: checkRawUpload(raw, limits), options };
}

/** The upload is queued: the request no longer holds its body, whatever it waits for next. */
export function bodyQueued(res: Response): void {
  releaseBody(res);
}

export function noteJob(res: Response, jobId: string): void {
  (res.locals as RequestLocals).jobId = jobId;
}
