import type { JobRecord } from '@cutout/shared';
import { toCeleryState, type GetJobResponse, type TaskView, type V1Job, type V1Status } from '@cutout/shared/contract';

/** GET /get_job's answer (§1): the contract's five fields, then our extras. */
export type JobView = GetJobResponse;

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const NO_REASON = { code: 'JOB_FAILED', message: 'the job failed without a recorded reason; submit it again' } as const;

/** The error a FAILED job shows; every failed job has one, recorded or not. */
function errorOf(record: JobRecord): NonNullable<GetJobResponse['error']> {
  return (record.error ?? NO_REASON) as NonNullable<GetJobResponse['error']>;
}

export function toJobView(record: JobRecord): JobView {
  // "ok" promises the reference client a result it can save, so it needs both the state and the bytes.
  const done = record.status === 'SUCCEEDED' && record.imageOutBase64 !== null;
  return {
    status: done ? 'ok' : 'ng',
    job_id: record.id,
    job_status: record.status,
    img_in_base64: record.imageInBase64,
    img_out_base64: done ? record.imageOutBase64 : null,
    ...(record.status === 'FAILED' ? { error: errorOf(record) } : {}),
    created_at: isoTime(record.createdAt),
    started_at: isoTime(record.startedAt),
    finished_at: isoTime(record.finishedAt),
    attempts: record.attempts,
    timings: record.timings as Record<string, number> | null,
  };
}

export const resultPath = (id: string) => `/v1/jobs/${id}/result`;

/** GET /v1/jobs/{id}: the job without image bytes; result_url once there is a result. */
export function toV1Job(record: JobRecord): V1Job {
  const status: V1Status = record.status;
  return {
    id: record.id,
    status,
    created_at: isoTime(record.createdAt),
    started_at: isoTime(record.startedAt),
    finished_at: isoTime(record.finishedAt),
    attempts: record.attempts,
    options: record.options,
    ...(status === 'FAILED' ? { error: errorOf(record) } : {}),
    ...(status === 'SUCCEEDED' ? { result_url: resultPath(record.id) } : {}),
  };
}

/** GET /tasks/{id} (seed 001): Celery's words; the result's base64 once SUCCESS. */
export function toTaskView(record: JobRecord, outputBase64: string | null): TaskView {
  const state = toCeleryState(record.status, record.status === 'QUEUED' && record.lastError !== null);
  const result =
    state === 'SUCCESS' && outputBase64 !== null ? { img_out_base64: outputBase64 } : state === 'FAILURE' || state === 'REVOKED' ? { error: errorOf(record) } : null;
  return { task_id: record.id, status: state, result };
}
