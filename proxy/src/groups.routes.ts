import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import type { RequestLocals } from '@cutout/shared';
import { groupPath } from '@cutout/shared/contract';
import { ownerOf } from './auth.js';
import type { GroupService } from './groups.service.js';
import { parseWait } from './jobs.schema.js';
import { clientGone } from './route-helpers.js';
import { idempotencyKeyOf } from './submit-fields.js';
import { readGroupUpload } from './upload.body.js';
import type { BodyLimits } from './body-source.js';

/** POST /v1/groups, GET /v1/groups/{id} (?wait=), GET /v1/groups/{id}/results.zip, DELETE /v1/groups/{id}. */
export function groupRoutes(service: GroupService, limits: BodyLimits): Router {
  const router = Router();

  router.post('/v1/groups', async (req: Request, res: Response) => {
    const idempotencyKey = idempotencyKeyOf(req);
    const raw = await readGroupUpload(req, res, { limits, maxImages: service.maxImages });
    const created = await service.submit(raw, { requestId: (res.locals as RequestLocals).requestId, owner: ownerOf(res), idempotencyKey });
    res.status(202).location(groupPath(created.id)).json(created);
  });

  router.get('/v1/groups/:id', async (req: Request<{ id: string }>, res: Response) => {
    const waitMs = parseWait(req.query.wait);
    const signal = clientGone(res);
    const view = await service.waitForDone(req.params.id, waitMs, ownerOf(res), signal);
    if (!signal.aborted) res.json(view);
  });

  router.get('/v1/groups/:id/results.zip', async (req: Request<{ id: string }>, res: Response) => {
    const zip = await service.zip(req.params.id, ownerOf(res));
    res.status(200).type('application/zip');
    res.setHeader('Content-Disposition', `attachment; filename="group-${req.params.id}.zip"`);
    // The zip holds what had finished when it was asked for; these say how much that was.
    res.setHeader('X-Cutout-Group-Complete', String(zip.complete));
    res.setHeader('X-Cutout-Group-Included', `${zip.included}/${zip.size}`);
    await pipeline(zip.stream, res);
  });

  router.delete('/v1/groups/:id', async (req: Request<{ id: string }>, res: Response) => {
    res.json(await service.cancel(req.params.id, ownerOf(res)));
  });

  return router;
}
