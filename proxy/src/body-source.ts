import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { AppError } from '@cutout/shared';
import { growBody, reserveBody, SMALL_BODY_BYTES, type BodyBudget } from './body-budget.js';
import { limitText } from './sizes.js';

/** What every body reader of the proxy is held to. */
export interface BodyLimits {
  /** MAX_IMAGE_BYTES. */
  maxImageBytes: number;
  /** MAX_REQUEST_BYTES: the most one body may hold once decompressed, whatever the route. */
  maxRequestBytes: number;
  /** BODY_BUDGET_BYTES, shared by every request of the process. */
  budget: BodyBudget;
}

/** The most a route reads of one body (decompressed), and the 413 it answers past it. */
export interface BodyCap {
  bytes: number;
  tooLarge: () => AppError;
}

export function requestTooLarge(maxRequestBytes: number): AppError {
  return new AppError(
    413,
    'BODY_TOO_LARGE',
    `the request body is over ${limitText(maxRequestBytes, 'MAX_REQUEST_BYTES')} once decompressed, the most one request may hold; send fewer or smaller images per request (split a group into several)`,
  );
}

/** A route's own limit, held to MAX_REQUEST_BYTES; the 413 names whichever of the two binds. */
export function capOf(ownBytes: number, ownError: () => AppError, limits: BodyLimits): BodyCap {
  if (ownBytes <= limits.maxRequestBytes) return { bytes: ownBytes, tooLarge: ownError };
  return { bytes: limits.maxRequestBytes, tooLarge: () => requestTooLarge(limits.maxRequestBytes) };
}

/**
 * How far past its limit a declared body may be and still be read away after the early answer.
 * A client is usually still sending when the 413 goes out; closing then makes many clients report
 * a broken connection instead of the answer. Node reads the rest of a body it did not consume
 * before the connection takes its next request, so up to this much is drained; beyond it (a
 * declared 10 GB) the connection is closed instead.
 */
const DRAIN_FACTOR = 2;

/** A declared body over `limit` is answered at once; the connection is kept (and drained) when that is cheap. */
export function answerBeforeBody(res: ServerResponse, declared: number, limit: number): void {
  if (!(declared <= limit * DRAIN_FACTOR)) res.setHeader('Connection', 'close');
}

export function isIdentityEncoded(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}

/** Counts a body's decoded bytes as they arrive. */
export interface BodyMeter {
  /** `bytes` more were decoded and will be held: 413 past the cap, 503 when the budget cannot take them. */
  add(bytes: number): void;
}

/**
 * Lets a body in, before a byte of it is read: a declared length over the cap answers 413 at
 * once. A body of declared length takes that much of the budget now (or 503 BODY_BUDGET_FULL);
 * a compressed one, or one of unknown length, is metered as it decodes: its first 64 KiB are
 * free, so a small compressed body never waits for the budget.
 */
export function admitBody(req: IncomingMessage, res: ServerResponse, cap: BodyCap, budget: BodyBudget): BodyMeter {
  const declared = Number(req.headers['content-length']);
  const identity = isIdentityEncoded(req);
  if (identity && declared > cap.bytes) {
    answerBeforeBody(res, declared, cap.bytes);
    throw cap.tooLarge();
  }
  let seen = 0;
  if (identity && Number.isFinite(declared)) {
    reserveBody(res, budget, declared);
    return {
      add(bytes) {
        seen += bytes;
        if (seen > cap.bytes) throw cap.tooLarge();
      },
    };
  }
  return {
    add(bytes) {
      const before = seen;
      seen += bytes;
      if (seen > cap.bytes) throw cap.tooLarge();
      if (seen > SMALL_BODY_BYTES) growBody(res, budget, before > SMALL_BODY_BYTES ? bytes : seen);
    },
  };
}

/** The body as it decodes: the request itself, or a decompressor it is piped into (gzip, deflate, br). */
export function decodedBody(req: IncomingMessage): Readable {
  if (isIdentityEncoded(req)) return req;
  const encoding = String(req.headers['content-encoding']).toLowerCase();
  const inflater =
    encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : null;
  if (inflater === null) {
    throw new AppError(415, 'UNSUPPORTED_ENCODING', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the body uncompressed, or compressed with gzip, deflate or br`);
  }
  req.pipe(inflater);
  return inflater;
}

export function incompleteBody(): AppError {
  return new AppError(400, 'INCOMPLETE_BODY', 'the request body ended before it was complete; send the whole body');
}
