import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors.js';

/** The media type without parameters, lower case; '' without a Content-Type. */
export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The raw image types every service accepts as a body. */
export const RAW_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/webp']);

/** A JSON body's `image` field, which must be a string (the base64 of the file). */
export function readImageField(image: unknown): string {
  if (typeof image !== 'string') {
    const found = image === undefined ? 'no "image" field' : `"image" is ${image === null ? 'null' : typeof image}`;
    throw new AppError(400, 'MISSING_IMAGE', `the body has ${found}; send {"image": "<base64 of a PNG, JPEG or WebP file>"}`);
  }
  return image;
}

/** A JSON body as an object of fields; anything else (an array, a string, null) has none. */
export function fieldsOf(body: unknown): Record<string, unknown> {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
