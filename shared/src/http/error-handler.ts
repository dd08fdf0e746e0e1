import type { Request, Response, NextFunction, ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, errorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RequestLocals } from './request-context.js';

/** A body that does not parse as JSON. */
export function invalidJson(): AppError {
  return new AppError(400, 'INVALID_JSON', 'the request body is not valid JSON; send {"image": "<base64>"} with Content-Type: application/json');
}

/** A body whose Content-Encoding (gzip, deflate, br) does not match its bytes. */
export function invalidContentEncoding(encoding: string): AppError {
  return new AppError(400, 'INVALID_CONTENT_ENCODING', `the body is not valid ${JSON.stringify(encoding.slice(0, 40))} data although Content-Encoding says so; send it uncompressed, or compress the whole body`);
}

/** The 500 every unexpected error gets: nothing of it is told but the request id to quote. */
export function internalErrorBody(requestId: string | undefined) {
  return errorBody('INTERNAL', 'something went wrong on our side; try again, and quote the request id if it persists', requestId);
}

/** body-parser's error types, turned into our stable codes. */
function fromBodyParser(error: { type?: unknown; status?: unknown }, bodyLimitHint: string): AppError | null {
  switch (error.type) {
    case 'entity.parse.failed':
      return invalidJson();
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

/**
 * Other errors express and body-parser raise for a bad request carry a 4xx status but no stable
 * code (a gzip body that is not gzip, a URL that is not valid percent-encoding). Bad input never
 * gets a 5xx, and a 5xx would make batch retry an input that can never work.
 */
function fromClientError(error: unknown, req: Request): AppError | null {
  if (error instanceof URIError) {
    return new AppError(400, 'BAD_REQUEST', 'the URL is not valid percent-encoding; encode path parts with encodeURIComponent');
  }
  if (!error || typeof error !== 'object') return null;
  const status = (error as { status?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number' || status < 400 || status > 499) return null;
  const encoding = req.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') {
    return invalidContentEncoding(encoding);
  }
  return new AppError(status, 'BAD_REQUEST', 'the request could not be read; see the README for the API');
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
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const locals = res.locals as RequestLocals;
    const known =
      error instanceof AppError
        ? error
        : ((error && typeof error === 'object' ? fromBodyParser(error, bodyLimitHint) : null) ?? fromClientError(error, req));
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
    res.status(500).json(internalErrorBody(locals.requestId));
  };
}

/** The last route: unknown paths and methods answer 404 in the same shape. */
export function notFoundHandler(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    next(new AppError(404, 'NOT_FOUND', `no route for ${req.method} ${req.path}; see the README for the API`));
  };
}
