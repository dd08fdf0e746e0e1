import type { JobRecord } from '../redis/job.repository.js';
import type { GroupRecord } from '../redis/group-record.js';
import { V1_STATUSES } from './status.js';
import type { V1Group, V1Job } from './wire.schema.js';

// The /v1 views of a job and a group, made in one place: the proxy answers them and the
// callback deliverer (in batch or the proxy) POSTs them.

const isoTime = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const NO_REASON = { code: 'JOB_FAILED', message: 'the job failed without a recorded reason; submit it again' } as const;

/** The error a FAILED or CANCELLED job shows; every one has one, recorded or not. */
export function jobErrorOf(record: JobRecord): { code: string; message: string } {
  return record.error ?? NO_REASON;
}

export const jobPath = (id: string) => `/v1/jobs/${id}`;
export const resultPath = (id: string) => `/v1/jobs/${id}/result`;
export const groupPath = (id: string) => `/v1/groups/${id}`;

/** GET /v1/jobs/{id}: the job without image bytes; result_url once there is a result. */
export function toV1Job(record: JobRecord): V1Job {
  const status = record.status;
  return {
    id: record.id,
    status,
    created_at: isoTime(record.createdAt),
    started_at: isoTime(record.startedAt),
    finished_at: isoTime(record.finishedAt),
    attempts: record.attempts,
    options: record.options,
    ...(record.group ? { group_id: record.group } : {}),
    ...(status === 'FAILED' || status === 'CANCELLED' ? { error: jobErrorOf(record) } : {}),
    ...(status === 'SUCCEEDED' ? { result_url: resultPath(record.id) } : {}),
  };
}

/** GET /v1/groups/{id}: counts by status, and the jobs in the order of the images. */
export function toGroupView(group: GroupRecord, jobs: readonly JobRecord[]): V1Group {
  const counts = Object.fromEntries(V1_STATUSES.map((s) => [s, 0])) as Record<(typeof V1_STATUSES)[number], number>;
  for (const job of jobs) counts[job.status] += 1;
  const done = group.unfinished <= 0;
  return {
    id: group.id,
    status: done ? 'DONE' : counts.QUEUED === jobs.length ? 'QUEUED' : 'RUNNING',
    size: group.size,
    created_at: isoTime(group.createdAt),
    finished_at: isoTime(group.finishedAt),
    options: group.options,
    counts,
    jobs: jobs.map(toV1Job),
    results_url: `${groupPath(group.id)}/results.zip`,
  };
}
