import { FormData } from 'undici';
import { GetJobResponseSchema, StartJobResponseSchema, TaskCreatedSchema, TaskViewSchema, V1JobSchema } from '@cutout/shared/contract';
import { failureFrom, LoadFailure, LONG_POLL_S, type Answer, type Http } from './http.js';
import type { ApiName } from './args.js';

/** One image as sent: its bytes for the file forms, base64 for the JSON ones. */
export interface Payload {
  name: string;
  bytes: Buffer;
  base64: string;
  type: string;
}

/** Sends one request and waits for its result; resolves with the job (or group) id, throws LoadFailure. */
export type Send = (images: readonly Payload[], signal: AbortSignal) => Promise<string>;

/** Celery's API has no long poll; this is how often seed 001's client would ask. */
const TASK_POLL_MS = 250;

/** What read() needs of a contract schema. */
interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false };
}

function read<T>(schema: Schema<T>, answer: Answer, what: string): T {
  const parsed = schema.safeParse(answer.json);
  if (!parsed.success) throw new LoadFailure('BAD_ANSWER', `${what} answered something that is not in the contract: ${JSON.stringify(answer.json).slice(0, 200)}`);
  return parsed.data;
}

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(new LoadFailure('TIMEOUT', 'gave up: the request took longer than --timeout'))), { once: true });
  });

const only = (images: readonly Payload[]): Payload => images[0]!;

/** seed 003: POST /start_job, then GET /get_job/{id}?wait= until "ok" (or FAILED). */
const seed003 = (http: Http): Send => async (images, signal) => {
  const started = await http.call('POST', '/start_job', signal, { json: { image: only(images).base64 } });
  if (started.status !== 200) throw failureFrom(started, 'start_job');
  const id = read(StartJobResponseSchema, started, 'start_job').job_id;
  for (;;) {
    const answer = await http.call('GET', `/get_job/${id}?wait=${LONG_POLL_S}`, signal);
    if (answer.status !== 200) throw failureFrom(answer, 'get_job');
    const job = read(GetJobResponseSchema, answer, 'get_job');
    if (job.status === 'ok') return id;
    if (job.job_status === 'FAILED') throw new LoadFailure(job.error?.code ?? 'JOB_FAILED', job.error?.message ?? 'the job failed');
  }
};

/** GET /v1/jobs/{id}/result?wait= until the bytes come (409 JOB_NOT_FINISHED means ask again). */
async function v1Result(http: Http, id: string, signal: AbortSignal): Promise<string> {
  for (;;) {
    const answer = await http.call('GET', `/v1/jobs/${id}/result?wait=${LONG_POLL_S}`, signal);
    if (answer.status === 200) return id;
    const failure = failureFrom(answer, 'GET /v1/jobs/{id}/result');
    if (failure.code !== 'JOB_NOT_FINISHED') throw failure;
  }
}

/** /v1: POST /v1/jobs with the file's bytes, then its result. */
const v1 = (http: Http): Send => async (images, signal) => {
  const image = only(images);
  const created = await http.call('POST', '/v1/jobs', signal, { bytes: image.bytes, type: image.type });
  if (created.status !== 202) throw failureFrom(created, 'POST /v1/jobs');
  return v1Result(http, read(V1JobSchema, created, 'POST /v1/jobs').id, signal);
};

/** POST /v1/remove: the bytes in one call; past SYNC_TIMEOUT_MS a 202 with the job, whose result is then fetched. */
const sync = (http: Http): Send => async (images, signal) => {
  const image = only(images);
  const answer = await http.call('POST', '/v1/remove', signal, { bytes: image.bytes, type: image.type });
  if (answer.status === 200) return '';
  if (answer.status === 202) return v1Result(http, read(V1JobSchema, answer, 'POST /v1/remove').id, signal);
  throw failureFrom(answer, 'POST /v1/remove');
};

/** seed 001: POST /predict, then GET /tasks/{id} until SUCCESS (or FAILURE/REVOKED). */
const task = (http: Http): Send => async (images, signal) => {
  const created = await http.call('POST', '/predict', signal, { json: { image: only(images).base64 } });
  if (created.status !== 200) throw failureFrom(created, 'POST /predict');
  const id = read(TaskCreatedSchema, created, 'POST /predict').task_id;
  for (;;) {
    const answer = await http.call('GET', `/tasks/${id}`, signal);
    if (answer.status !== 200) throw failureFrom(answer, 'GET /tasks/{id}');
    const view = read(TaskViewSchema, answer, 'GET /tasks/{id}');
    if (view.status === 'SUCCESS') return id;
    if (view.status === 'FAILURE' || view.status === 'REVOKED') {
      const error = view.result && 'error' in view.result ? view.result.error : undefined;
      throw new LoadFailure(error?.code ?? view.status, error?.message ?? `the task ended ${view.status}`);
    }
    await pause(TASK_POLL_MS, signal);
  }
};

/**
 * seed 000: K images in one POST /v1/groups (multipart, one "file" field each), then
 * GET /v1/groups/{id}?wait= until DONE. The contract module has no group schema yet (the
 * workloads issue adds it), so only the fields CONTRACT §6 names are read.
 */
const group = (http: Http): Send => async (images, signal) => {
  const form = new FormData();
  for (const image of images) form.append('file', new Blob([image.bytes], { type: image.type }), image.name);
  const created = await http.call('POST', '/v1/groups', signal, { form });
  if (created.status !== 202) throw failureFrom(created, 'POST /v1/groups');
  const id = (created.json as { id?: unknown }).id;
  if (typeof id !== 'string') throw new LoadFailure('BAD_ANSWER', 'POST /v1/groups answered without an id');
  for (;;) {
    const answer = await http.call('GET', `/v1/groups/${id}?wait=${LONG_POLL_S}`, signal);
    if (answer.status !== 200) throw failureFrom(answer, 'GET /v1/groups/{id}');
    const view = answer.json as { status?: string; counts?: Record<string, number> };
    if (view.status !== 'DONE') continue;
    const succeeded = view.counts?.SUCCEEDED ?? 0;
    if (succeeded === images.length) return id;
    throw new LoadFailure('GROUP_INCOMPLETE', `${succeeded} of ${images.length} jobs succeeded: ${JSON.stringify(view.counts)}`);
  }
};

export function senderFor(api: ApiName, grouped: boolean, http: Http): Send {
  if (grouped) return group(http);
  return { seed003, v1, sync, task }[api](http);
}
