import type { JobStatus } from '../job-status.js';

/** A job's status in the /v1 API (CONTRACT §6). CANCELLED is part of the vocabulary for cancels. */
export const V1_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type V1Status = (typeof V1_STATUSES)[number];

/** §1's job_status: a cancelled job shows FAILED (with error code CANCELLED). */
export function toJobStatus(status: V1Status): JobStatus {
  return status === 'CANCELLED' ? 'FAILED' : status;
}

/** Job priorities, strictly served in this order; `normal` is the contract's `job_id` list. */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const CELERY_STATES = ['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type CeleryState = (typeof CELERY_STATES)[number];

/**
 * Celery's word for a job's state, as seed 001's clients read it. A queued job that already
 * failed once and waits to run again is RETRY, as Celery reports a task between its retries.
 */
export function toCeleryState(status: V1Status, retrying: boolean): CeleryState {
  switch (status) {
    case 'QUEUED':
      return retrying ? 'RETRY' : 'PENDING';
    case 'RUNNING':
      return 'STARTED';
    case 'SUCCEEDED':
      return 'SUCCESS';
    case 'FAILED':
      return 'FAILURE';
    case 'CANCELLED':
      return 'REVOKED';
  }
}

export const isFinalStatus = (status: V1Status | JobStatus): boolean => status !== 'QUEUED' && status !== 'RUNNING';
