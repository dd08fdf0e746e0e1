import { Router, type Request, type Response } from 'express';
import type { RequestLocals } from '@cutout/shared';
import { jsonBody, parseWait, readStartJobBody } from './jobs.schema.js';
import type { JobService } from './jobs.service.js';
import { ownerOf } from './auth.js';
import { writeJobView } from './job-views.js';

/** POST /start_job and GET /get_job/:job_id (with the optional long poll `?wait=<seconds>`), the reference job API. */
export function jobsRoutes(service: JobService, maxImageBytes: number): Router {
  const router = Router();

  router.post('/start_job', jsonBody(maxImageBytes), async (req: Request, res: Response) => {
    const locals = res.locals as RequestLocals;
    const image = readStartJobBody(req.body);
    const started = await service.start(image, locals.requestId, ownerOf(res));
    locals.jobId = started.jobId;
    res.json({ status: 'ok', job_id: started.jobId, job_status: 'QUEUED' });
  });

  router.get('/get_job/:job_id', getJobHandler(service));

  return router;
}

/**
 * GET /get_job/:job_id, with the optional long poll. The app mounts it ahead of its other
 * routers: the busiest call of a polling client then skips their route matching.
 */
export function getJobHandler(service: JobService) {
  return async (req: Request<{ job_id: string }>, res: Response) => {
    const waitMs = parseWait(req.query.wait);
    if (waitMs > 0) {
      // 'close' before an answer was sent means the client went away: stop waiting for it.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      await service.waitForEnd(req.params.job_id, waitMs, gone.signal, ownerOf(res));
      if (gone.signal.aborted) return;
    }
    const job = await service.viewBytes(req.params.job_id, ownerOf(res));
    (res.locals as RequestLocals).jobId = job.record.id;
    // The images go out as the bytes Redis sent (see writeJobView): no string, no JSON.stringify.
    writeJobView(res, job, req.method === 'HEAD');
  };
}
