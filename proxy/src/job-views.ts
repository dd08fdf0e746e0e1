import type { ServerResponse } from 'node:http';
import type { ImagePieces, JobRecord, JobWithImageBytes, JobWithImagePieces } from '@cutout/shared';
import { jobErrorOf, toCeleryState, toJobStatus, type GetJobResponse, type TaskView } from '@cutout/shared/contract';

/** GET /get_job's answer (§1): the contract's five fields, then our extras. */
export type JobView = GetJobResponse;

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const errorOf = jobErrorOf;

export function toJobView(record: JobRecord): JobView {
  // "ok" promises the reference client a result it can save, so it needs both the state and the bytes.
  const done = record.status === 'SUCCEEDED' && record.imageOutBase64 !== null;
  // §1 knows four states: a cancelled job is FAILED there, with error code CANCELLED.
  const jobStatus = toJobStatus(record.status);
  return {
    status: done ? 'ok' : 'ng',
    job_id: record.id,
    job_status: jobStatus,
    img_in_base64: record.imageInBase64,
    img_out_base64: done ? record.imageOutBase64 : null,
    ...(jobStatus === 'FAILED' ? { error: errorOf(record) } : {}),
    created_at: isoTime(record.createdAt),
    started_at: isoTime(record.startedAt),
    finished_at: isoTime(record.finishedAt),
    attempts: record.attempts,
    timings: record.timings as Record<string, number> | null,
  };
}

/** Bytes a JSON string may not hold as they are: '"', '\\', LF, CR (base64 has none of them). */
const NEEDS_ESCAPE = [0x22, 0x5c, 0x0a, 0x0d] as const;

function needsEscape(bytes: Buffer): boolean {
  for (const b of NEEDS_ESCAPE) if (bytes.indexOf(b) !== -1) return true;
  return false;
}

/** An image's base64 bytes as a JSON value: quoted as they are when they need no escaping, else through JSON.stringify. */
function jsonImage(bytes: Buffer | null): (Buffer | string)[] {
  if (bytes === null) return ['null'];
  if (needsEscape(bytes)) return [JSON.stringify(bytes.toString())];
  return ['"', bytes, '"'];
}

/** The view's JSON before, between and after the two images, for writeJobView and streamJobView. */
function frame(record: JobRecord, done: boolean): { head: string; between: string; tail: string } {
  const view = toJobView({ ...record, imageInBase64: null, imageOutBase64: null });
  const { status, job_id, job_status, img_in_base64: _in, img_out_base64: _out, ...rest } = view;
  return {
    head: `${JSON.stringify({ status: done ? 'ok' : status, job_id, job_status }).slice(0, -1)},"img_in_base64":`,
    between: ',"img_out_base64":',
    tail: `,${JSON.stringify(rest).slice(1)}`,
  };
}

/** True when both images came whole in the first read: the answer is then writeJobView's. */
export function isWhole(job: JobWithImagePieces): boolean {
  return (job.imageIn === null || job.imageIn.first.length === job.imageIn.length) && (job.imageOut === null || job.imageOut.first.length === job.imageOut.length);
}

/** The pieces as one Buffer each (for an image that came whole, its one piece). */
export async function wholeImages(job: JobWithImagePieces): Promise<JobWithImageBytes> {
  const whole = async (image: ImagePieces | null) => {
    if (image === null) return null;
    if (image.first.length === image.length) return image.first;
    const pieces = [image.first];
    for await (const piece of image.rest()) pieces.push(piece);
    return Buffer.concat(pieces, image.length);
  };
  return { record: job.record, imageIn: await whole(job.imageIn), imageOut: await whole(job.imageOut) };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * writeJobView's bytes for a job with a large image, read from Redis a piece at a time: each
 * piece is written (and the socket allowed to drain) before the next is read, so the proxy holds
 * about one piece per image instead of the whole 10–30 MB bulk replies. Content-Length is known
 * from the lengths. An image needing JSON escapes (never base64) is read whole and written as
 * writeJobView does; a key that changes mid-read ends the answer short (the client sees a
 * truncated body, never a wrong one) and throws.
 */
export async function streamJobView(res: ServerResponse, job: JobWithImagePieces, head = false): Promise<void> {
  const done = job.record.status === 'SUCCEEDED' && job.imageOut !== null;
  const images = [job.imageIn, done ? job.imageOut : null] as const;
  if (images.some((image) => image !== null && needsEscape(image.first))) {
    writeJobView(res, await wholeImages(job), head);
    return;
  }
  const { head: before, between, tail } = frame(job.record, done);
  const quoted = (image: ImagePieces | null) => (image === null ? 4 : image.length + 2);
  const length = Buffer.byteLength(before) + quoted(images[0]) + Buffer.byteLength(between) + quoted(images[1]) + Buffer.byteLength(tail);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(length));
  if (head) return void res.end();
  const write = async (piece: Buffer | string) => {
    if (!res.write(piece)) await drained(res);
    if (res.destroyed) throw new Error('the client went away during the answer');
  };
  const writeImage = async (image: ImagePieces | null) => {
    if (image === null) return write('null');
    await write('"');
    await write(image.first);
    for await (const piece of image.rest()) {
      if (needsEscape(piece)) throw new Error('an image holds bytes that are not base64; the answer was cut short');
      await write(piece);
    }
    await write('"');
  };
  try {
    await write(before);
    await writeImage(images[0]);
    await write(between);
    await writeImage(images[1]);
    await write(tail);
    res.end();
  } catch (error) {
    // Headers and part of the body are out: the only honest end is a cut connection.
    res.destroy();
    if (!(error instanceof Error && error.message === 'the client went away during the answer')) throw error;
  }
}

/** Below this an answer goes out as one buffer (one copy is cheaper than a writev of six pieces). */
const ONE_BUFFER_BELOW = 64 * 1024;

/**
 * §1's get_job answer written in pieces around the two images, as Redis returned them: the same
 * bytes JSON.stringify(toJobView(record)) gives (same fields, same order), without turning
 * megabytes of base64 into JS strings, copying them into one JSON string and encoding that again.
 */
export function writeJobView(res: ServerResponse, job: JobWithImageBytes, head = false): void {
  const done = job.record.status === 'SUCCEEDED' && job.imageOut !== null;
  // The view of the record alone; the images are written around it.
  const { head: before, between, tail } = frame(job.record, done);
  const parts: (Buffer | string)[] = [before, ...jsonImage(job.imageIn), between, ...jsonImage(done ? job.imageOut : null), tail];
  const buffers = parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part));
  let length = 0;
  for (const buffer of buffers) length += buffer.length;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(length));
  if (head) res.end();
  else if (length < ONE_BUFFER_BELOW) res.end(Buffer.concat(buffers, length));
  else {
    res.cork();
    for (const buffer of buffers) res.write(buffer);
    res.end();
  }
}

export { resultPath, toV1Job } from '@cutout/shared/contract';

/** GET /tasks/{id} (seed 001): Celery's words; the result's base64 once SUCCESS. */
export function toTaskView(record: JobRecord, outputBase64: string | null): TaskView {
  const state = toCeleryState(record.status, record.status === 'QUEUED' && record.lastError !== null);
  const result =
    state === 'SUCCESS' && outputBase64 !== null ? { img_out_base64: outputBase64 } : state === 'FAILURE' || state === 'REVOKED' ? { error: errorOf(record) } : null;
  return { task_id: record.id, status: state, result };
}
