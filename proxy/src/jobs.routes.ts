import type { ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import type { RequestLocals } from '@cutout/shared';
import { jsonBody, parseWait, readStartJobBody } from './jobs.schema.js';
import type { BodyLimits } from './body-source.js';
import type { JobService } from './jobs.service.js';
import { ownerOf, type Owner } from './auth.js';
import { isWhole, streamJobView, writeJobView } from './job-views.js';

/** POST /start_job and GET /get_job/:job_id (with the optional long poll `?wait=<seconds>`), the reference job API. */
export function jobsRoutes(service: JobService, limits: BodyLimits): Router {
  const router = Router();

  router.post('/start_job', jsonBody(limits), async (req: Request, res: Response) => {
    const locals = res.locals as RequestLocals;
    const answer = await startJob(service, req.body, locals.requestId, ownerOf(res));
    locals.jobId = answer.job_id;
    res.json(answer);
  });

  router.get('/get_job/:job_id', getJobHandler(service));

  return router;
}

/** POST /start_job's work once the body is parsed, for express and the fast lane (fast-jobs.ts) alike. */
export async function startJob(service: JobService, body: unknown, requestId: string, owner: Owner): Promise<{ status: 'ok'; job_id: string; job_status: 'QUEUED' }> {
  const image = readStartJobBody(body);
  const started = await service.start(image, requestId, owner);
  return { status: 'ok', job_id: started.jobId, job_status: 'QUEUED' };
}

/**
 * GET /get_job/:job_id's work, for express and the fast lane alike: the optional long poll, then
 * the view. `noteJob` hears the job's id for the access log.
 */
export async function serveGetJob(service: JobService, res: ServerResponse, rawId: string, rawWait: unknown, owner: Owner, head: boolean, noteJob: (id: string) => void): Promise<void> {
  const waitMs = parseWait(rawWait);
  if (waitMs > 0) {
    // 'close' before an answer was sent means the client went away: stop waiting for it.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    await service.waitForEnd(rawId, waitMs, gone.signal, owner);
    if (gone.signal.aborted) return;
  }
  const job = await service.viewBytes(rawId, owner);
  noteJob(job.record.id);
  // The images go out as the bytes Redis sent (see writeJobView): no string, no JSON.stringify;
  // a large one a piece at a time, as it is read.
  if (isWhole(job)) writeJobView(res, { record: job.record, imageIn: job.imageIn?.first ?? null, imageOut: job.imageOut?.first ?? null }, head);
  else await streamJobView(res, job, head);
}

/**
 * GET /get_job/:job_id, with the optional long poll. The app mounts it ahead of its other
 * routers: the busiest call of a polling client then skips their route matching.
 */
export function getJobHandler(service: JobService) {
  return async (req: Request<{ job_id: string }>, res: Response) => {
    const locals = res.locals as RequestLocals;
    await serveGetJob(service, res, req.params.job_id, req.query.wait, ownerOf(res), req.method === 'HEAD', (id) => (locals.jobId = id));
  };
}
