import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { AppError, checkCallbackUrl, type Lookup, type SubmitFields } from '@cutout/shared';
import type { JobOptions } from '@cutout/shared/contract';
import type { Owner } from './auth.js';

/** The settings that turn a submit's options into what is stored with its job(s). */
export interface SubmitPolicy {
  /** CALLBACK_SECRET; empty: callbacks are refused (they could not be signed). */
  callbackSecret: string;
  /** CALLBACK_ALLOW_HOSTS. */
  callbackAllowHosts: ReadonlySet<string>;
  /** JOB_DEFAULT_DEADLINE_S; 0 for none. */
  defaultDeadlineS: number;
  /** API_KEY_MAX_QUEUED; 0 for no limit. */
  maxQueuedPerKey: number;
  /** Name resolution for the callback check (tests give their own). */
  lookup?: Lookup;
}

export const DEFAULT_SUBMIT_POLICY: SubmitPolicy = Object.freeze({ callbackSecret: '', callbackAllowHosts: new Set<string>(), defaultDeadlineS: 0, maxQueuedPerKey: 0 });

const MAX_IDEMPOTENCY_KEY = 255;

/** The Idempotency-Key header, checked; null when absent. */
export function idempotencyKeyOf(req: Request): string | null {
  const key = req.get('idempotency-key');
  if (key === undefined) return null;
  if (key.trim() === '' || key.length > MAX_IDEMPOTENCY_KEY) {
    throw new AppError(400, 'INVALID_IDEMPOTENCY_KEY', `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters (a UUID is a good choice)`);
  }
  return key.trim();
}

/**
 * What makes two submits "the same body": the image bytes in order and the options, never the
 * form's random boundary or the JSON's spacing, so a retry through any body form matches.
 *
 * And what the body asks for: one Idempotency-Key may name a job or a group, never both, so a
 * group's hash starts with a label a job's never has. One image with the same options through
 * POST /v1/jobs and POST /v1/groups is then "another body" (422 IDEMPOTENCY_KEY_REUSED), not a
 * repeat whose id the other route would look up as the wrong kind (404). A job's hash is left as
 * it was, so job keys stored before this change still answer their repeats.
 */
export function bodyHashOf(images: readonly Buffer[], options: JobOptions, kind: 'job' | 'group' = 'job'): string {
  const hash = createHash('sha256');
  if (kind === 'group') hash.update('cutout group\n');
  for (const bytes of images) hash.update(createHash('sha256').update(bytes).digest());
  return hash.update(JSON.stringify(options)).digest('hex');
}

/** The stored fields of a submit: priority, deadline, a checked callback URL, owner and idempotency. */
export async function resolveSubmitFields(
  options: JobOptions | undefined,
  owner: Owner,
  policy: SubmitPolicy,
  idempotency: { key: string; bodyHash: string } | null,
): Promise<SubmitFields> {
  const callbackUrl = options?.callback_url ?? null;
  if (callbackUrl !== null) {
    if (policy.callbackSecret === '') {
      throw new AppError(400, 'CALLBACKS_DISABLED', 'callback_url needs the server to sign deliveries, and CALLBACK_SECRET is not set; ask the operator to set it, or poll the job instead');
    }
    await checkCallbackUrl(callbackUrl, policy.callbackAllowHosts, policy.lookup);
  }
  const deadlineS = options?.deadline_s ?? (policy.defaultDeadlineS > 0 ? policy.defaultDeadlineS : null);
  return {
    ...(options ? { options } : {}),
    ...(owner === null ? {} : { owner, ownerMaxActive: policy.maxQueuedPerKey }),
    priority: options?.priority ?? 'normal',
    ...(deadlineS === null ? {} : { deadlineMs: deadlineS * 1000 }),
    ...(callbackUrl === null ? {} : { callbackUrl }),
    ...(idempotency ? { idempotency } : {}),
  };
}
