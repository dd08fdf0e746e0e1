import type { Request, Response, NextFunction, ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, errorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RequestLocals } from './request-context.js';

/** body-parser's error types, turned into our stable codes. */
function fromBodyParser(error: { type?: unknown; status?: unknown }, bodyLimitHint: string): AppError | null {
  switch (error.type) {
    case 'entity.parse.failed':
      return new AppError(400, 'INVALID_JSON', 'the request body is not valid JSON; send {"image": "<base64>"} with Content-Type: application/json');
    case 'entity.too.large':
      return new AppError(413, 'BODY_TOO_LARGE', `the request body is too large; ${bodyLimitHint}`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(415, 'UNSUPPORTED_ENCODING', 'the body encoding or charset is not supported; send UTF-8 JSON, uncompressed or gzip/deflate');
    case 'request.aborted':
    case 'request.size.invalid':
      return new AppError(400, 'INCOMPLETE_BODY', 'the request body ended before its declared length; send the whole body');
    default:
      return null;
  }
}

export interface ErrorHandlerOptions {
  logger: Logger;
  /** Said in the 413 message: how large a body may be. */
  bodyLimitHint: string;
}

/**
 * Maps errors to `{"status":"ng","error":{code,message}}`. Known errors keep their status;
 * anything else is logged with its stack and answered as a plain 500 with the request id.
 */
export function errorHandler({ logger, bodyLimitHint }: ErrorHandlerOptions): ErrorRequestHandler {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const locals = res.locals as RequestLocals;
    const known = error instanceof AppError ? error : error && typeof error === 'object' ? fromBodyParser(error, bodyLimitHint) : null;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (known) {
      locals.errorCode = known.code;
      res.status(known.status).json(errorBody(known.code, known.message));
      return;
    }
    locals.errorCode = 'INTERNAL';
    logger.error('unhandled error', { request_id: locals.requestId, job_id: locals.jobId, error });
    res.status(500).json(errorBody('INTERNAL', 'something went wrong on our side; try again, and quote the request id if it persists', locals.requestId));
  };
}

/** The last route: unknown paths and methods answer 404 in the same shape. */
export function notFoundHandler(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(new AppError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}; see the README for the API`));
  };
}
