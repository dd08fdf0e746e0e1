import { RESP_TYPES } from 'redis';
import type { RedisClient } from './client.js';
import { toJobRecord, type JobRecord } from './job-record.js';

/**
 * How much of an image one read takes. A small image (every tiny job, most photos) comes whole
 * with the record in one round trip; a large one comes in pieces of this size, each written out
 * before the next is read, so the proxy never holds a 26 MB bulk reply (which node-redis's RESP
 * decoder keeps as its socket chunks and then their concatenation: twice over).
 */
export const IMAGE_PIECE_BYTES = 1024 * 1024;

/** An image's base64 text as bytes: its first piece, its whole length, and a reader for the rest. */
export interface ImagePieces {
  length: number;
  first: Buffer;
  /** The pieces after the first, in order; throws ImageChangedError when the key no longer holds what it held. */
  rest(): AsyncGenerator<Buffer>;
}

/** A job's record with both images as pieces (null: no such key). */
export interface JobWithImagePieces {
  record: JobRecord;
  imageIn: ImagePieces | null;
  imageOut: ImagePieces | null;
}

/** An image key that expired or was deleted between the pieces of one read. */
export class ImageChangedError extends Error {
  constructor(key: string, at: number, expected: number, got: number) {
    super(`${key} changed while it was read: at byte ${at} ${got} bytes came instead of ${expected}`);
    this.name = 'ImageChangedError';
  }
}

const BULK_AS_BUFFER = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/**
 * The record and each image's first piece in one round trip, then the rest of a large image
 * piece by piece. A first piece shorter than a piece is the whole image, so only an image that
 * fills its first piece costs a second round trip (STRLEN, for the answer's Content-Length): a
 * status poll of a tiny job is three commands, not five. An image key never changes once
 * written (image_in at submit, image_out once by the fenced complete), so later reads see the
 * same value, unless the key expired meanwhile: then the whole read is made once more (it then
 * sees the expired job), and rest() throws rather than yield a short image. A missing key and
 * an empty one both read as null: neither ever holds an image (empty uploads are refused, and a
 * stored output is a checked PNG's base64).
 */
export async function readJobWithImagePieces(redis: RedisClient, id: string, keys: { record: string; imageIn: string; imageOut: string }, pieceBytes = IMAGE_PIECE_BYTES, again = true): Promise<JobWithImagePieces | null> {
  const bytes = redis.withTypeMapping(BULK_AS_BUFFER);
  const last = pieceBytes - 1;
  // Sent together (one round trip), not in a MULTI: node-redis applies the Buffer type mapping to
  // single commands but not to a transaction's replies, which came back as strings. Without the
  // transaction the order still holds: the record is read first, and the enqueue and complete
  // scripts write an image before (or with) the record that names it, so a record read as
  // SUCCEEDED finds its output, and one read as not finished shows no output whatever follows.
  // The record comes as strings (the plain client, same connection, same round trip): only the images are bytes.
  const [hash, inRead, outRead] = (await Promise.all([redis.hGetAll(keys.record), bytes.getRange(keys.imageIn, 0, last), bytes.getRange(keys.imageOut, 0, last)])) as unknown as [
    Record<string, string>,
    Buffer | string,
    Buffer | string,
  ];
  if (!hash || Object.keys(hash).length === 0) return null;
  const asBytes = (value: Buffer | string) => (typeof value === 'string' ? Buffer.from(value, 'latin1') : value);
  const [inFirst, outFirst] = [asBytes(inRead), asBytes(outRead)];
  const lengthOf = async (key: string, first: Buffer) => (first.length < pieceBytes ? first.length : Number(await bytes.strLen(key)));
  const [inLength, outLength] = await Promise.all([lengthOf(keys.imageIn, inFirst), lengthOf(keys.imageOut, outFirst)]);
  if (inLength < inFirst.length || outLength < outFirst.length) {
    if (again) return readJobWithImagePieces(redis, id, keys, pieceBytes, false);
    throw new ImageChangedError(inLength < inFirst.length ? keys.imageIn : keys.imageOut, 0, pieceBytes, 0);
  }
  const pieces = (key: string, first: Buffer, length: number): ImagePieces | null =>
    length === 0
      ? null
      : {
          length,
          first,
          async *rest() {
            for (let at = first.length; at < length; at += pieceBytes) {
              const expected = Math.min(pieceBytes, length - at);
              const piece = asBytes((await bytes.getRange(key, at, at + expected - 1)) as unknown as Buffer | string);
              if (piece.length !== expected) throw new ImageChangedError(key, at, expected, piece.length);
              yield piece;
            }
          },
        };
  return { record: toJobRecord(id, hash, null, null), imageIn: pieces(keys.imageIn, inFirst, inLength), imageOut: pieces(keys.imageOut, outFirst, outLength) };
}
