import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { AppError, type JobRecord, type Logger } from '@cutout/shared';
import { parseJobOptions, toGroupView, type V1Group, type V1GroupCreated } from '@cutout/shared/contract';
import type { Owner } from './auth.js';
import type { JobDoneWaits } from './job-done.listener.js';
import { parseJobId } from './jobs.schema.js';
import { checkRawUpload, refused, type CheckedUpload, type JobService, type UploadLimits } from './jobs.service.js';
import { bodyHashOf, resolveSubmitFields } from './submit-fields.js';
import type { RawGroupUpload } from './upload.body.js';

export const DEFAULT_GROUP_MAX_IMAGES = 100;

export interface GroupServiceDeps {
  jobs: JobService;
  logger: Logger;
  limits: UploadLimits;
  /** GROUP_MAX_IMAGES. */
  maxImages: number;
  jobDone?: JobDoneWaits | undefined;
}

export interface GroupSubmit {
  requestId: string;
  owner: Owner;
  idempotencyKey: string | null;
}

function groupNotFound(): AppError {
  return new AppError(404, 'GROUP_NOT_FOUND', 'no group has this id: it is unknown, malformed, expired (JOB_TTL_SECONDS after its last job ended) or another API key\'s');
}

/** A form's or JSON body's `partial`: true, "true", "1", "on". */
function isPartial(value: unknown): boolean {
  return value === true || (typeof value === 'string' && ['true', '1', 'on', 'yes'].includes(value.toLowerCase()));
}

/** The zip entry of a finished job: `<index>-<job id>.<format>`, the index from 0 as in `jobs`. */
const entryName = (index: number, job: JobRecord) => `${index}-${job.id}.${job.options.format}`;

/** POST /v1/groups and what follows it: many images in one request, one job each, queued in one step. */
export class GroupService {
  constructor(private readonly deps: GroupServiceDeps) {}

  get maxImages(): number {
    return this.deps.maxImages;
  }

  /**
   * Checks every image and queues them all in one atomic step with the group. A bad image
   * refuses the whole request, naming its index; with `partial=true` the good ones are queued and
   * the bad ones reported by index.
   */
  async submit(raw: RawGroupUpload, submit: GroupSubmit): Promise<V1GroupCreated> {
    const { partial, ...optionFields } = raw.fields;
    const options = parseJobOptions(optionFields);
    const good: Array<{ index: number; upload: CheckedUpload }> = [];
    const rejected: NonNullable<V1GroupCreated['rejected']> = [];
    raw.images.forEach((image, index) => {
      try {
        good.push({ index, upload: checkRawUpload({ ...image, fields: {} }, this.deps.limits) });
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (!isPartial(partial)) throw new AppError(error.status, error.code, `image ${index}: ${error.message}; nothing was queued`);
        rejected.push({ index, error: { code: error.code, message: error.message } });
      }
    });
    if (good.length === 0) throw new AppError(400, rejected[0]!.error.code as 'MISSING_IMAGE', `no image of the group could be queued; image 0: ${rejected[0]!.error.message}`);
    const idempotency = submit.idempotencyKey === null ? null : { key: submit.idempotencyKey, bodyHash: bodyHashOf(good.map((g) => g.upload.bytes), options, 'group') };
    const fields = await resolveSubmitFields(options, submit.owner, this.deps.jobs.policy, idempotency);
    const groupId = randomUUID();
    const images = good.map(({ upload }) => ({
      id: randomUUID(),
      imageBase64: upload.base64,
      format: upload.header.format,
      width: upload.header.width,
      height: upload.header.height,
      bytes: upload.bytes.length,
    }));
    const payload = images.reduce((sum, i) => sum + i.imageBase64.length, 0);
    const queued = await this.deps.jobs.enqueueOnce('enqueue group', payload, (notAfter) => this.deps.jobs.jobs.enqueueGroup(groupId, images, { ...fields, notAfter }));
    if (!queued.accepted) throw refused(queued);
    if (queued.repeated) {
      const view = await this.view(queued.id, submit.owner);
      return { id: view.id, jobs: view.jobs.map((j) => j.id) };
    }
    this.deps.logger.info('group queued', { request_id: submit.requestId, group_id: groupId, jobs: images.length, rejected: rejected.length, api_key: submit.owner ?? undefined });
    return { id: groupId, jobs: images.map((i) => i.id), ...(rejected.length > 0 ? { rejected } : {}) };
  }

  async #read(rawId: string, owner: Owner) {
    const id = parseJobId(rawId);
    const found = id === null ? null : await this.deps.jobs.guard('get group', () => this.deps.jobs.jobs.getGroup(id));
    if (found === null || (owner !== null && found.group.owner !== owner)) throw groupNotFound();
    return found;
  }

  async view(rawId: string, owner: Owner): Promise<V1Group> {
    const { group, jobs } = await this.#read(rawId, owner);
    return toGroupView(group, jobs);
  }

  /** The view once the group is DONE or `waitMs` has passed (its last job's end wakes the wait). */
  async waitForDone(rawId: string, waitMs: number, owner: Owner, signal?: AbortSignal): Promise<V1Group> {
    const id = parseJobId(rawId);
    const wait = id === null || waitMs <= 0 ? null : (this.deps.jobDone?.waitFor(id, waitMs, signal) ?? null);
    try {
      const view = await this.view(rawId, owner);
      if (wait === null || view.status === 'DONE') return view;
      await wait.woken;
      return await this.view(rawId, owner);
    } finally {
      wait?.cancel();
    }
  }

  /** DELETE /v1/groups/{id}: every unfinished job ends CANCELLED; 409 when all had ended. */
  async cancel(rawId: string, owner: Owner): Promise<V1Group> {
    const { group } = await this.#read(rawId, owner);
    const cancelled = await this.deps.jobs.guard('cancel group', () => this.deps.jobs.jobs.cancel('group', group.id));
    if (cancelled === null) throw groupNotFound();
    if (cancelled === 0) throw new AppError(409, 'JOB_ALREADY_FINISHED', 'every job of the group has already ended; there is nothing to cancel');
    this.deps.logger.info('group cancelled', { group_id: group.id, jobs_cancelled: cancelled, api_key: owner ?? undefined });
    return this.view(group.id, owner);
  }

  /**
   * The finished cutouts as a zip, streamed: each entry's bytes are read from Redis only when
   * the zip reaches it, so at most one cutout is in memory. `complete` says whether every job
   * had ended when the listing was taken.
   */
  async zip(rawId: string, owner: Owner): Promise<{ stream: NodeJS.ReadableStream; included: number; size: number; complete: boolean }> {
    const { group, jobs } = await this.#read(rawId, owner);
    const zip = new ZipFile();
    let included = 0;
    jobs.forEach((job, index) => {
      if (job.status !== 'SUCCEEDED') return;
      included += 1;
      // PNG and WebP are compressed already: stored, the zip costs no CPU.
      zip.addReadStreamLazy(entryName(index, job), { compress: false, mtime: new Date(job.finishedAt ?? Date.now()) }, (callback) => {
        this.deps.jobs.outputBase64(job.id).then(
          (base64) => callback(null, Readable.from([Buffer.from(base64 ?? '', 'base64')])),
          (error: unknown) => callback(error, Readable.from([])),
        );
      });
    });
    zip.end();
    return { stream: zip.outputStream, included, size: group.size, complete: group.unfinished <= 0 };
  }
}
