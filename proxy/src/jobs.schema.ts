import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AppError, fieldsOf, JOB_ID_PATTERN, readImageField } from '@cutout/shared';
import { reserveBody } from './body-budget.js';
import { admitBody, answerBeforeBody, capOf, isIdentityEncoded, type BodyCap, type BodyLimits } from './body-source.js';
import { inMiB } from './sizes.js';

export { inMiB } from './sizes.js';

/**
 * The largest JSON body that can carry an image of `maxImageBytes`: base64 is 4/3 of the bytes,
 * `base64` wraps lines every 76 characters (an escaped "\n" in JSON adds 2 per line, under 3 %),
 * and the data-URL prefix and the JSON around it need a little more.
 */
export function bodyLimitBytes(maxImageBytes: number): number {
  const base64 = Math.ceil(maxImageBytes / 3) * 4;
  return Math.ceil(base64 * (1 + 1 / 32)) + 64 * 1024;
}

export function imageTooLarge(maxImageBytes: number, actualBytes?: number): AppError {
  const actual = actualBytes === undefined ? 'the upload is too large to hold an image within' : `the image is ${actualBytes} bytes (${inMiB(actualBytes)}), over`;
  const limit = `${maxImageBytes} bytes (${inMiB(maxImageBytes)}, MAX_IMAGE_BYTES)`;
  return new AppError(413, 'IMAGE_TOO_LARGE', `${actual} the limit of ${limit}; send a smaller or more compressed image`);
}

/**
 * A JSON body of `images` images: what they may take (413 IMAGE_TOO_LARGE past it, what the
 * client can act on), held to MAX_REQUEST_BYTES (413 BODY_TOO_LARGE past that).
 */
export function imagesCap(limits: BodyLimits, images = 1): BodyCap {
  return capOf(bodyLimitBytes(limits.maxImageBytes) * images, () => imageTooLarge(limits.maxImageBytes), limits);
}

/**
 * Parses a JSON body of one image, of bounded size (express.json: such a body is small enough
 * to read whole). Other content types answer 415 before a byte is read; a body over the limit
 * answers 413 IMAGE_TOO_LARGE (what the client can act on) rather than the generic
 * BODY_TOO_LARGE; a large one must fit in the body budget first (503 BODY_BUDGET_FULL).
 */
export function jsonBody(limits: BodyLimits): RequestHandler {
  const cap = imagesCap(limits);
  // strict: false lets valid JSON of the wrong shape (a bare string, null) reach the schema
  // check and get MISSING_IMAGE, keeping INVALID_JSON for bodies that are not JSON at all.
  const parse = express.json({ limit: cap.bytes, strict: false, type: 'application/json' });
  return (req: Request, res: Response, next: NextFunction) => {
    // body-parser would refuse a declared length over the limit only after reading the whole
    // body away, so a client that declares 10 GB and sends nothing would hold the request open.
    // Answer at once instead.
    const declared = Number(req.get('content-length'));
    if (declared > cap.bytes) {
      answerBeforeBody(res, declared, cap.bytes);
      next(cap.tooLarge());
      return;
    }
    // An empty body of no declared type (fetch and curl send one) is a missing image, not a wrong type.
    const empty = req.get('content-length') === '0' && !req.get('content-type');
    if (!empty && req.is('application/json') === false) {
      const given = req.get('content-type') ?? 'none';
      next(new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(given.slice(0, 100))} is not accepted; send a JSON body {"image": "<base64>"} with Content-Type: application/json`));
      return;
    }
    try {
      // body-parser reads (and inflates) the body itself: one of unknown decoded size takes the
      // whole cap of the budget now, as its meter cannot be fed.
      if (isIdentityEncoded(req) && req.get('content-length') !== undefined) admitBody(req, res, cap, limits.budget);
      else reserveBody(res, limits.budget, cap.bytes);
    } catch (error) {
      next(error);
      return;
    }
    parse(req, res, (error?: unknown) => {
      const type = error && typeof error === 'object' && 'type' in error ? error.type : undefined;
      if (type !== 'entity.too.large') return next(error);
      // A body of no declared length that ran past the limit: body-parser stopped reading, and
      // Node would read the rest (of any size) to keep the connection; close it after the answer.
      if (req.get('content-length') === undefined) res.setHeader('Connection', 'close');
      next(cap.tooLarge());
    });
  };
}

/** The `image` string of a start_job body. */
export function readStartJobBody(body: unknown): string {
  return readImageField(fieldsOf(body).image);
}

/**
 * 404 for an id that names no job. `submitWith` is the call that submits on the API the client
 * is using (a Celery-style client knows POST /predict, not §1's POST /start_job).
 */
export function jobNotFound(submitWith = 'POST /start_job'): AppError {
  // The id is not echoed: it may be megabytes of anything.
  return new AppError(404, 'JOB_NOT_FOUND', `no job has this id: it is unknown, malformed (ids are UUID v4) or expired (jobs last JOB_TTL_SECONDS); submit the image again with ${submitWith}`);
}

/** What GET /tasks/{id} (seed 001's API) says to submit with. */
export const TASK_SUBMIT = 'POST /predict';

/** A job id as stored (lower case), or null when it cannot be one of ours. */
export function parseJobId(raw: string): string | null {
  if (raw.length !== 36) return null;
  const id = raw.toLowerCase();
  return JOB_ID_PATTERN.test(id) ? id : null;
}

/** The longest `?wait=` on GET /get_job, in seconds. */
export const MAX_WAIT_SECONDS = 30;

/**
 * GET /get_job's `?wait=<seconds>` (0 to 30, decimals allowed) in milliseconds; 0 when absent.
 * Anything else is a 400: a typo should not silently turn a long poll into a busy loop.
 */
export function parseWait(raw: unknown): number {
  if (raw === undefined) return 0;
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  const seconds = text !== undefined && /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds >= 0 && seconds <= MAX_WAIT_SECONDS)) {
    const given = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 40)) : 'given more than once';
    throw new AppError(
      400,
      'INVALID_WAIT',
      `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS} (decimals allowed, e.g. ?wait=2.5), given once; got ${given}`,
    );
  }
  return Math.round(seconds * 1000);
}
