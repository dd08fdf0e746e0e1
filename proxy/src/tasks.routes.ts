import { Router, type Request, type Response } from 'express';
import type { RequestLocals } from '@cutout/shared';
import { ownerOf } from './auth.js';
import { toTaskView } from './job-views.js';
import type { JobService } from './jobs.service.js';
import { TASK_SUBMIT } from './jobs.schema.js';
import { noteJob, readCheckedUpload, type RequestLimits } from './route-helpers.js';

/**
 * Seed 001's FastAPI + Celery task API: POST /predict {"image"} → {"task_id"}, then
 * GET /tasks/{task_id} in Celery's state words. The task is an ordinary job.
 */
export function taskRoutes(service: JobService, limits: RequestLimits): Router {
  const router = Router();

  router.post('/predict', async (req: Request, res: Response) => {
    const { upload, options } = await readCheckedUpload(req, res, limits, ['json']);
    const started = await service.submit(upload, { requestId: (res.locals as RequestLocals).requestId, owner: ownerOf(res), options });
    noteJob(res, started.jobId);
    res.json({ task_id: started.jobId });
  });

  router.get('/tasks/:task_id', async (req: Request<{ task_id: string }>, res: Response) => {
    const record = await service.record(req.params.task_id, ownerOf(res), { submitWith: TASK_SUBMIT });
    noteJob(res, record.id);
    const output = record.status === 'SUCCEEDED' ? await service.outputBase64(record.id) : null;
    res.json(toTaskView(record, output));
  });

  return router;
}
