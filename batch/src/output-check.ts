import { AppError, readImageHeader, type ImageHeader } from '@cutout/shared';

/** The input as the proxy recorded it. */
export interface InputFacts {
  readonly format: string;
  readonly width: number;
  readonly height: number;
}
import type { OutputFormat } from '@cutout/shared/contract';
import { PredictBadOutputError } from './predict.errors.js';

/** The most an output may weigh: raw RGBA of the image, plus room for the container. */
export function outputByteCap(input: InputFacts): number {
  return input.width * input.height * 4 + 1024 * 1024;
}

/**
 * Checks predict's answer before it is stored as a job's result: the format asked for (by its
 * signature and header), the input's size (either way round: EXIF orientation may turn a JPEG
 * or WebP), and a size no image of that many pixels needs to exceed. Whatever else predict
 * answered (an empty body, `hello`, a JPEG) would otherwise become a SUCCEEDED job.
 */
export function checkPredictOutput(bytes: Buffer, format: OutputFormat, input: InputFacts, url: string): void {
  const bad = (what: string) => new PredictBadOutputError(`predict at ${url} answered 200 with ${what}; the answer was not stored`);
  if (bytes.length === 0) throw bad('an empty body');
  if (bytes.length > outputByteCap(input)) throw bad(`${bytes.length} bytes, more than a ${input.width}×${input.height} image can need`);
  let header: ImageHeader;
  try {
    header = readImageHeader(bytes);
  } catch (error) {
    throw bad(`bytes that are not an image (${error instanceof AppError ? error.code : 'unreadable'})`);
  }
  if (header.format !== format) throw bad(`a ${header.format} where ${format} was asked for`);
  const same = header.width === input.width && header.height === input.height;
  const turned = input.format !== 'png' && header.width === input.height && header.height === input.width;
  if (!same && !turned) throw bad(`a ${header.width}×${header.height} image for a ${input.width}×${input.height} input`);
}
