import type { ErrorRequestHandler, NextFunction, Request, Response } from 'express';
import { jobNotFound, TASK_SUBMIT } from './jobs.schema.js';

/**
 * Express decodes path parameters before any handler runs, so a job id that is not valid
 * percent-encoding arrives as a URIError. For /get_job it is just an id that names no job: 404,
 * as the contract says. Everything else goes on to the shared error handler.
 */
const JOB_PATHS = /^\/(get_job|v1\/jobs|tasks)\//;

export function clientErrors(): ErrorRequestHandler {
  return (error: unknown, req: Request, _res: Response, next: NextFunction) => {
    next(error instanceof URIError && JOB_PATHS.test(req.path) ? jobNotFound(req.path.startsWith('/tasks/') ? TASK_SUBMIT : undefined) : error);
  };
}
