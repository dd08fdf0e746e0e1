import type { JobRecord } from '@cutout/shared';
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

export { resultPath, toV1Job } from '@cutout/shared/contract';

/** GET /tasks/{id} (seed 001): Celery's words; the result's base64 once SUCCESS. */
export function toTaskView(record: JobRecord, outputBase64: string | null): TaskView {
  const state = toCeleryState(record.status, record.status === 'QUEUED' && record.lastError !== null);
  const result =
    state === 'SUCCESS' && outputBase64 !== null ? { img_out_base64: outputBase64 } : state === 'FAILURE' || state === 'REVOKED' ? { error: errorOf(record) } : null;
  return { task_id: record.id, status: state, result };
}
