import { randomUUID } from 'node:crypto';
import type { Request, Response, NextFunction, RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { routeOf, type HttpMetrics } from '../metrics/http-metrics.js';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What handlers may attach to `res.locals` for the access log. */
export interface RequestLocals {
  requestId: string;
  jobId?: string;
  errorCode?: string;
  /** The API key's name (never the key), once the request is authenticated. */
  apiKeyName?: string;
}

/** The request's id: the caller's X-Request-Id when it is sane, else a new one. */
export function requestIdFrom(given: string | undefined): string {
  return given && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Gives each request an id (the caller's X-Request-Id when it is sane, else a new one), echoes it,
 * and writes one access-log line when the response ends; with `http`, it also records the
 * request in cutout_http_request_duration_seconds under its route pattern.
 */
export function requestContext(logger: Logger, http?: HttpMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const requestId = requestIdFrom(req.get('x-request-id'));
    const locals = res.locals as RequestLocals;
    locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      http?.observe(routeOf(req), res.statusCode, started);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('request', {
        request_id: requestId,
        job_id: locals.jobId,
        method: req.method,
        path: req.originalUrl.length > 200 ? `${req.originalUrl.slice(0, 200)}…` : req.originalUrl,
        status: res.statusCode,
        error_code: locals.errorCode,
        api_key: locals.apiKeyName,
        duration_ms: Math.round(ms * 100) / 100,
        bytes_in: Number(req.get('content-length') ?? 0),
      });
    });
    next();
  };
}
