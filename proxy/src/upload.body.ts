import busboy from 'busboy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, fieldsOf, mediaTypeOf, RAW_IMAGE_TYPES } from '@cutout/shared';
import { imageTooLarge, jsonBody } from './jobs.schema.js';

/** An upload as it arrived, before any image check: the file's bytes or base64, and the other fields. */
export type RawUpload =
  | { kind: 'base64'; image: unknown; fields: Record<string, unknown> }
  | { kind: 'bytes'; bytes: Buffer; fields: Record<string, unknown> };

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

/** A raw image body, counted as it streams: past `limit` bytes the upload is refused at once. */
function readRawBody(req: Request, res: Response, limit: number, maxImageBytes: number): Promise<Buffer> {
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
      if (size > limit) return fail(refuseEarly(res, imageTooLarge(maxImageBytes)));
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
function readMultipart(req: Request, res: Response, maxImageBytes: number): Promise<RawUpload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxImageBytes, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES } });
    } catch (error) {
      reject(new AppError(400, 'INVALID_MULTIPART', `the multipart body cannot be read (${(error as Error).message}); send multipart/form-data with a boundary and the image in the field "file"`));
      return;
    }
    const fields: Record<string, unknown> = {};
    let file: Buffer | null = null;
    let otherFile: string | null = null;
    let settled = false;
    // Whatever went wrong, the rest of the body is not read: the answer closes the connection.
    const fail = (error: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      reject(refuseEarly(res, error));
    };
    parser.on('file', (name, stream) => {
      if (name !== 'file') {
        otherFile = name;
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('limit', () => fail(imageTooLarge(maxImageBytes)));
      stream.once('end', () => {
        if (!stream.truncated) file = Buffer.concat(chunks);
      });
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new AppError(400, 'INVALID_OPTION', `form field ${JSON.stringify(name.slice(0, 40))} is longer than ${MAX_FIELD_BYTES} bytes`));
      fields[name] = Object.hasOwn(fields, name) ? [fields[name], value].flat() : value;
    });
    parser.once('filesLimit', () => fail(new AppError(400, 'TOO_MANY_FILES', 'the form holds more than one file; send one image in the field "file" (POST /v1/groups takes many)')));
    parser.once('fieldsLimit', () => fail(new AppError(400, 'INVALID_REQUEST', `the form holds more than ${MAX_FIELDS} fields`)));
    parser.once('error', (error: Error) => fail(new AppError(400, 'INVALID_MULTIPART', `the multipart body is malformed (${error.message}); send multipart/form-data with the image in the field "file"`)));
    req.once('aborted', () => fail(incomplete()));
    parser.once('close', () => {
      if (settled) return;
      settled = true;
      if (file === null) {
        const found = otherFile === null ? 'no file' : `a file in the field ${JSON.stringify(String(otherFile).slice(0, 40))}`;
        reject(new AppError(400, 'MISSING_FILE', `the form has ${found}; send the image in the field "file" (curl -F file=@photo.jpg)`));
        return;
      }
      resolve({ kind: 'bytes', bytes: file, fields });
    });
    req.pipe(parser);
  });
}

function runMiddleware(handler: RequestHandler, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => handler(req, res, ((error?: unknown) => (error ? reject(error) : resolve())) as NextFunction));
}

export interface UploadFormsOptions {
  maxImageBytes: number;
  /** Which forms the call takes; default all three. */
  forms?: ReadonlyArray<'json' | 'multipart' | 'raw'>;
}

function unsupportedType(req: Request, forms: ReadonlyArray<string>): AppError {
  const given = req.get('content-type') ?? 'none';
  const accepted = [
    forms.includes('json') ? 'application/json {"image": "<base64>", ...options}' : null,
    forms.includes('multipart') ? 'multipart/form-data with the image in the field "file"' : null,
    forms.includes('raw') ? 'the raw file as image/png, image/jpeg or image/webp (options as query parameters)' : null,
  ].filter((f) => f !== null);
  return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(given.slice(0, 100))} is not accepted; send ${accepted.join(', or ')}`);
}

/**
 * Reads an upload in any of CONTRACT §6's three body forms. Options come from the JSON object's
 * other fields, the form's text fields, or (for a raw body) the query; JSON and form bodies may
 * also put options in the query. Nothing is checked here beyond size and shape.
 */
export async function readUpload(req: Request, res: Response, options: UploadFormsOptions): Promise<RawUpload> {
  const forms = options.forms ?? ['json', 'multipart', 'raw'];
  const type = mediaTypeOf(req);
  const query = req.query as Record<string, unknown>;
  const declared = Number(req.get('content-length'));
  if (type === 'multipart/form-data' && forms.includes('multipart')) {
    onlyIdentityEncoding(req);
    if (declared > options.maxImageBytes + MULTIPART_OVERHEAD) throw refuseEarly(res, imageTooLarge(options.maxImageBytes));
    const upload = await readMultipart(req, res, options.maxImageBytes);
    return { ...upload, fields: { ...query, ...upload.fields } };
  }
  if (RAW_IMAGE_TYPES.has(type) && forms.includes('raw')) {
    onlyIdentityEncoding(req);
    if (declared > options.maxImageBytes) throw refuseEarly(res, imageTooLarge(options.maxImageBytes));
    return { kind: 'bytes', bytes: await readRawBody(req, res, options.maxImageBytes, options.maxImageBytes), fields: { ...query } };
  }
  if (type !== 'application/json' && !(type === '' && req.get('content-length') === '0') && forms.includes('json')) {
    throw unsupportedType(req, forms);
  }
  if (!forms.includes('json')) throw unsupportedType(req, forms);
  await runMiddleware(jsonBody(options.maxImageBytes), req, res);
  const { image, ...fields } = fieldsOf(req.body);
  return { kind: 'base64', image, fields: { ...query, ...fields } };
}
