import { Router, type Request, type Response } from 'express';
import type { StatusService } from './status.service.js';

/** GET /health and GET /metadata. */
export function statusRoutes(service: StatusService): Router {
  const router = Router();

  router.get('/health', async (_req: Request, res: Response) => {
    await service.health();
    res.json({ status: 'ok' });
  });

  router.get('/metadata', async (_req: Request, res: Response) => {
    res.json(await service.metadata());
  });

  return router;
}
