import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { AppError, checkCallbackUrl, type Lookup, type SubmitFields } from '@cutout/shared';
import type { JobOptions, Priority } from '@cutout/shared/contract';
import type { Owner } from './auth.js';

/** The settings that turn a submit's options into what is stored with its job(s). */
export interface SubmitPolicy {
  /** CALLBACK_SECRET; empty: callbacks are refused (they could not be signed), but for keys with their own secret. */
  callbackSecret: string;
  /** CALLBACK_ALLOW_HOSTS. */
  callbackAllowHosts: ReadonlySet<string>;
  /** JOB_DEFAULT_DEADLINE_S; 0 for none. */
  defaultDeadlineS: number;
  /** API_KEY_MAX_QUEUED; 0 for no limit. */
  maxQueuedPerKey: number;
  /** What API_KEYS_FILE sets for each key, by its name (CONTRACT §13); a key not here has the deployment's settings. */
  keys?: ReadonlyMap<string, KeyPolicy>;
  /** Name resolution for the callback check (tests give their own). */
  lookup?: Lookup;
}

/** A key's own settings from its API_KEYS_FILE line. */
export interface KeyPolicy {
  /** max_queued=N: its most unfinished jobs, instead of API_KEY_MAX_QUEUED (0: no limit). */
  readonly maxQueued?: number;
  /** priorities=...: the only priorities its jobs may run at; absent: all. */
  readonly priorities?: readonly Priority[];
  /** callback_secret=...: its callbacks are signed with its own secret, so they need no CALLBACK_SECRET. */
  readonly hasCallbackSecret?: boolean;
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

/**
 * The job's priority, when the key may use it: one a key's API_KEYS_FILE line does not list is
 * refused, also when it is the default (normal), so a key's jobs never run at another.
 */
function allowedPriority(priority: Priority, key: KeyPolicy | undefined): Priority {
  const allowed = key?.priorities;
  if (allowed === undefined || allowed.includes(priority)) return priority;
  const given = allowed.length === 1 ? `priority ${allowed[0]}` : `priorities ${allowed.join(', ')}`;
  throw new AppError(403, 'PRIORITY_NOT_ALLOWED', `this API key may use only ${given}, and the job asked for ${priority} (normal is the default); send the option priority=${allowed[allowed.length - 1]}`);
}

/** The stored fields of a submit: priority, deadline, a checked callback URL, owner and idempotency. */
export async function resolveSubmitFields(
  options: JobOptions | undefined,
  owner: Owner,
  policy: SubmitPolicy,
  idempotency: { key: string; bodyHash: string } | null,
): Promise<SubmitFields> {
  const key = owner === null ? undefined : policy.keys?.get(owner);
  const priority = allowedPriority(options?.priority ?? 'normal', key);
  let callbackUrl: string | null = null;
  if (options?.callback_url != null) {
    if (policy.callbackSecret === '' && !key?.hasCallbackSecret) {
      throw new AppError(400, 'CALLBACKS_DISABLED', 'callback_url needs the server to sign deliveries, and neither CALLBACK_SECRET nor a callback_secret for this API key is set; ask the operator to set one, or poll the job instead');
    }
    // Stored as the URL parser writes it: one receiver is then spelled one way, and its
    // callbacks share one rest when it fails (the outbox keys receivers by origin).
    callbackUrl = (await checkCallbackUrl(options.callback_url, policy.callbackAllowHosts, policy.lookup)).url.href;
  }
  const deadlineS = options?.deadline_s ?? (policy.defaultDeadlineS > 0 ? policy.defaultDeadlineS : null);
  return {
    ...(options ? { options } : {}),
    ...(owner === null ? {} : { owner, ownerMaxActive: key?.maxQueued ?? policy.maxQueuedPerKey }),
    priority,
    ...(deadlineS === null ? {} : { deadlineMs: deadlineS * 1000 }),
    ...(callbackUrl === null ? {} : { callbackUrl }),
    ...(idempotency ? { idempotency } : {}),
  };
}
