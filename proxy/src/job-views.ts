import type { ServerResponse } from 'node:http';
import type { JobRecord, JobWithImageBytes } from '@cutout/shared';
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

/** An image's base64 bytes as a JSON value: quoted as they are when they need no escaping, else through JSON.stringify. */
function jsonImage(bytes: Buffer | null): (Buffer | string)[] {
  if (bytes === null) return ['null'];
  for (const b of NEEDS_ESCAPE) if (bytes.indexOf(b) !== -1) return [JSON.stringify(bytes.toString())];
  return ['"', bytes, '"'];
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
  const view = toJobView({ ...job.record, imageInBase64: null, imageOutBase64: null });
  const { status, job_id, job_status, img_in_base64: _in, img_out_base64: _out, ...rest } = view;
  const parts: (Buffer | string)[] = [
    `${JSON.stringify({ status: done ? 'ok' : status, job_id, job_status }).slice(0, -1)},"img_in_base64":`,
    ...jsonImage(job.imageIn),
    ',"img_out_base64":',
    ...jsonImage(done ? job.imageOut : null),
    `,${JSON.stringify(rest).slice(1)}`,
  ];
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
