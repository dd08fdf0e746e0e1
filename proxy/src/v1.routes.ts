import { Router, type Request, type Response } from 'express';
import type { RequestLocals } from '@cutout/shared';
import { ownerOf } from './auth.js';
import { jobPath, resultPath, toV1Job } from '@cutout/shared/contract';
import { bodyHashOf, idempotencyKeyOf } from './submit-fields.js';
import { parseWait } from './jobs.schema.js';
import type { JobService } from './jobs.service.js';
import { clientGone, noteJob, NOT_FINISHED_RETRY_AFTER_S, readCheckedUpload, sendResult, type RequestLimits } from './route-helpers.js';


/** POST /v1/jobs, GET /v1/jobs/{id} and GET /v1/jobs/{id}/result (CONTRACT §6). */
export function v1Routes(service: JobService, limits: RequestLimits): Router {
  const router = Router();

  router.post('/v1/jobs', async (req: Request, res: Response) => {
    const key = idempotencyKeyOf(req);
    const { upload, options } = await readCheckedUpload(req, res, limits);
    const idempotency = key === null ? null : { key, bodyHash: bodyHashOf([upload.bytes], options) };
    const started = await service.submit(upload, { requestId: (res.locals as RequestLocals).requestId, owner: ownerOf(res), options, idempotency });
    noteJob(res, started.jobId);
    if (started.repeated) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(jobPath(started.jobId));
    res.json(toV1Job(started.record));
  });

  router.delete('/v1/jobs/:id', async (req: Request<{ id: string }>, res: Response) => {
    const record = await service.cancel(req.params.id, ownerOf(res));
    noteJob(res, record.id);
    res.json(toV1Job(record));
  });

  /** The record once the job has ended or `?wait=` has passed (at once without it). */
  const waited = async (req: Request<{ id: string }>, res: Response) => {
    const waitMs = parseWait(req.query.wait);
    const signal = clientGone(res);
    if (waitMs > 0) await service.waitForEnd(req.params.id, waitMs, signal, ownerOf(res));
    return signal.aborted ? null : service.record(req.params.id, ownerOf(res));
  };

  router.get('/v1/jobs/:id', async (req: Request<{ id: string }>, res: Response) => {
    const record = await waited(req, res);
    if (record === null) return;
    noteJob(res, record.id);
    res.json(toV1Job(record));
  });

  router.get('/v1/jobs/:id/result', async (req: Request<{ id: string }>, res: Response) => {
    const record = await waited(req, res);
    if (record === null) return;
    noteJob(res, record.id);
    if (record.status === 'QUEUED' || record.status === 'RUNNING') res.setHeader('Retry-After', String(NOT_FINISHED_RETRY_AFTER_S));
    sendResult(req, res, await service.result(record.id, ownerOf(res)));
  });

  return router;
}

export { jobPath, resultPath };
