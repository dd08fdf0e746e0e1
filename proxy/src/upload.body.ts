import busboy from 'busboy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, fieldsOf, mediaTypeOf, RAW_IMAGE_TYPES } from '@cutout/shared';
import { admitBody, capOf, type BodyLimits, type BodyMeter } from './body-source.js';
import { OversizedImage, type JsonPath } from './json-assembler.js';
import { readJsonStream } from './json-stream.js';
import { bodyLimitBytes, imageTooLarge, imagesCap, jsonBody } from './jobs.schema.js';

/**
 * One image as it arrived, before any check: the file's bytes, what a JSON body held, or a
 * JSON image string that ran past the limit while it streamed (dropped, only its place kept).
 */
export type RawImage = { kind: 'base64'; image: unknown } | { kind: 'bytes'; bytes: Buffer } | { kind: 'oversized' };

/** An upload as it arrived: its image and the other fields (options). */
export type RawUpload = RawImage & { fields: Record<string, unknown> };

/** A group upload: every image in order, and the other fields. */
export interface RawGroupUpload {
  images: RawImage[];
  fields: Record<string, unknown>;
}

/** Room for the multipart boundaries, part headers and option fields around the file. */
const MULTIPART_OVERHEAD = 64 * 1024;
const MAX_FIELD_BYTES = 1024;
const MAX_FIELDS = 32;

/** The client sent more than it may: answer now and close, rather than read the rest of a huge body. */
function refuseEarly(res: Response, error: AppError): AppError {
  res.setHeader('Connection', 'close');
  return error;
}

function onlyIdentityEncoding(req: Request): void {
  const encoding = req.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') {
    throw new AppError(415, 'UNSUPPORTED_ENCODING', `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted for file uploads; send the file as it is`);
  }
}

function incomplete(): AppError {
  return new AppError(400, 'INCOMPLETE_BODY', 'the request body ended before it was complete; send the whole file');
}

/** A raw image body, metered as it streams: past its cap (or the budget) the upload is refused at once. */
function readRawBody(req: Request, res: Response, meter: BodyMeter): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: AppError) => {
      req.removeAllListeners('data');
      req.pause();
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      try {
        meter.add(chunk.length);
      } catch (error) {
        return fail(refuseEarly(res, error as AppError));
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('aborted', () => fail(incomplete()));
    req.once('error', () => fail(incomplete()));
  });
}

/**
 * multipart/form-data with the image in the one field `file` and options as text fields, parsed
 * by busboy as it streams: the size limit stops a large file at the limit, not after.
 */
function readMultipart(req: Request, res: Response, maxImageBytes: number, maxFiles: number, tooMany: () => AppError, meter: BodyMeter): Promise<RawGroupUpload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // busboy reports its limit when a file *reaches* fileSize: one byte more lets a file of
      // exactly MAX_IMAGE_BYTES through, as the JSON and raw forms take it.
      parser = busboy({ headers: req.headers, limits: { fileSize: maxImageBytes + 1, files: maxFiles, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES } });
    } catch (error) {
      reject(new AppError(400, 'INVALID_MULTIPART', `the multipart body cannot be read (${(error as Error).message}); send multipart/form-data with a boundary and the image in the field "file"`));
      return;
    }
    const fields: Record<string, unknown> = {};
    // In the order the parts arrived; a slot is filled when its file has been read whole.
    const files: Array<Buffer | null> = [];
    let otherFile: string | null = null;
    let settled = false;
    // Closing on a client that is still sending makes it see EPIPE or a reset instead of the answer.
    // With a declared length (checked against the limit before parsing) what is left is bounded:
    // it is read and dropped while the answer goes out on an open connection. Only a body of
    // unknown length is cut off: the answer closes the connection rather than read the rest.
    const fail = (error: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      if (req.get('content-length') === undefined) {
        reject(refuseEarly(res, error));
        return;
      }
      req.resume();
      reject(error);
    };
    const malformed = (error: Error) => fail(new AppError(400, 'INVALID_MULTIPART', `the multipart body is malformed (${error.message}); send multipart/form-data with the image in the field "file"`));
    parser.on('file', (name, stream) => {
      // busboy also emits a part's errors (a form cut short inside the file) on the file's own
      // stream; without a listener that 'error' is thrown and takes the whole process down.
      stream.on('error', malformed);
      if (name !== 'file') {
        otherFile = name;
        stream.resume();
        return;
      }
      const slot = files.push(null) - 1;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('limit', () => fail(imageTooLarge(maxImageBytes)));
      stream.once('end', () => {
        if (!stream.truncated) files[slot] = Buffer.concat(chunks);
      });
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new AppError(400, 'INVALID_OPTION', `form field ${JSON.stringify(name.slice(0, 40))} is longer than ${MAX_FIELD_BYTES} bytes`));
      fields[name] = Object.hasOwn(fields, name) ? [fields[name], value].flat() : value;
    });
    parser.once('filesLimit', () => fail(tooMany()));
    parser.once('fieldsLimit', () => fail(new AppError(400, 'INVALID_REQUEST', `the form holds more than ${MAX_FIELDS} fields`)));
    parser.on('error', malformed);
    // A body of unknown length (chunked) is held to the cap, and metered, as it arrives.
    req.on('data', (chunk: Buffer) => {
      try {
        meter.add(chunk.length);
      } catch (error) {
        fail(error as AppError);
      }
    });
    req.once('aborted', () => fail(incomplete()));
    parser.once('close', () => {
      if (settled) return;
      settled = true;
      if (files.length === 0 || files.some((f) => f === null)) {
        const found = otherFile === null ? 'no file' : `a file in the field ${JSON.stringify(String(otherFile).slice(0, 40))}`;
        reject(new AppError(400, 'MISSING_FILE', `the form has ${found}; send the image in the field "file" (curl -F file=@photo.jpg)`));
        return;
      }
      resolve({ images: files.map((bytes) => ({ kind: 'bytes', bytes: bytes! })), fields });
    });
    req.pipe(parser);
  });
}

function runMiddleware(handler: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => handler(req, res, ((error?: unknown) => (error ? reject(error) : resolve())) as NextFunction));
}

export interface UploadFormsOptions {
  limits: BodyLimits;
  /** Which forms the call takes; default all three. */
  forms?: ReadonlyArray<'json' | 'multipart' | 'raw'>;
}

function unsupportedType(req: Request, forms: ReadonlyArray<string>, jsonShape: string): AppError {
  const given = req.get('content-type') ?? 'none';
  const accepted = [
    forms.includes('json') ? `application/json ${jsonShape}` : null,
    forms.includes('multipart') ? 'multipart/form-data with the image in the field "file"' : null,
    forms.includes('raw') ? 'the raw file as image/png, image/jpeg or image/webp (options as query parameters)' : null,
  ].filter((f) => f !== null);
  return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(given.slice(0, 100))} is not accepted; send ${accepted.join(', or ')}`);
}

function isJson(req: Request): boolean {
  const type = mediaTypeOf(req);
  // An empty body of no declared type (fetch and curl send one) is a missing image, not a wrong type.
  return type === 'application/json' || (type === '' && req.get('content-length') === '0');
}

/**
 * Reads an upload in any of CONTRACT §6's three body forms. Options come from the JSON object's
 * other fields, the form's text fields, or (for a raw body) the query; JSON and form bodies may
 * also put options in the query. Nothing is checked here beyond size and shape.
 */
export async function readUpload(req: Request, res: Response, options: UploadFormsOptions): Promise<RawUpload> {
  const forms = options.forms ?? ['json', 'multipart', 'raw'];
  const { limits } = options;
  const { maxImageBytes } = limits;
  const type = mediaTypeOf(req);
  const query = req.query as Record<string, unknown>;
  const tooLarge = () => imageTooLarge(maxImageBytes);
  if (type === 'multipart/form-data' && forms.includes('multipart')) {
    onlyIdentityEncoding(req);
    const meter = admitBody(req, res, capOf(maxImageBytes + MULTIPART_OVERHEAD, tooLarge, limits), limits.budget);
    const tooMany = () => new AppError(400, 'TOO_MANY_FILES', 'the form holds more than one file; send one image in the field "file" (POST /v1/groups takes many)');
    const upload = await readMultipart(req, res, maxImageBytes, 1, tooMany, meter);
    return { ...upload.images[0]!, fields: { ...query, ...upload.fields } };
  }
  if (RAW_IMAGE_TYPES.has(type) && forms.includes('raw')) {
    onlyIdentityEncoding(req);
    const meter = admitBody(req, res, capOf(maxImageBytes, tooLarge, limits), limits.budget);
    return { kind: 'bytes', bytes: await readRawBody(req, res, meter), fields: { ...query } };
  }
  if (!forms.includes('json') || !isJson(req)) throw unsupportedType(req, forms, '{"image": "<base64>", ...options}');
  await runMiddleware(jsonBody(limits), req, res);
  const { image, ...fields } = fieldsOf(req.body);
  return { kind: 'base64', image, fields: { ...query, ...fields } };
}

const IMAGES_PATH: JsonPath = ['images'];

/**
 * A group's images: JSON `{"images": [...], ...options}` or a form with many `file` fields. The
 * JSON is read as it streams (json-stream.ts), an image at a time, and neither form may hold more
 * than MAX_REQUEST_BYTES.
 */
export async function readGroupUpload(req: Request, res: Response, options: { limits: BodyLimits; maxImages: number }): Promise<RawGroupUpload> {
  const { limits, maxImages } = options;
  const query = req.query as Record<string, unknown>;
  const tooMany = () => new AppError(413, 'TOO_MANY_IMAGES', `the group holds more than ${maxImages} images (GROUP_MAX_IMAGES); split it into several groups`);
  if (mediaTypeOf(req) === 'multipart/form-data') {
    onlyIdentityEncoding(req);
    const meter = admitBody(req, res, capOf((limits.maxImageBytes + MULTIPART_OVERHEAD) * maxImages, tooMany, limits), limits.budget);
    const upload = await readMultipart(req, res, limits.maxImageBytes, maxImages, tooMany, meter);
    return { images: upload.images, fields: { ...query, ...upload.fields } };
  }
  if (!isJson(req)) throw unsupportedType(req, ['json', 'multipart'], '{"images": ["<base64>", ...], ...options}');
  const body = await readJsonStream(req, res, {
    limits,
    cap: imagesCap(limits, maxImages),
    rules: {
      isImage: (path) => path.length === 2 && path[0] === 'images',
      maxImageChars: bodyLimitBytes(limits.maxImageBytes),
      list: { path: IMAGES_PATH, max: maxImages, tooMany },
    },
  });
  const { images, ...fields } = fieldsOf(body);
  if (!Array.isArray(images) || images.length === 0) {
    throw new AppError(400, 'MISSING_IMAGE', 'the body has no "images" array of base64 strings; send {"images": ["<base64>", ...]}');
  }
  return { images: images.map((image: unknown): RawImage => (image instanceof OversizedImage ? { kind: 'oversized' } : { kind: 'base64', image })), fields: { ...query, ...fields } };
}
