import type { ServerResponse } from 'node:http';
import { AppError } from '@cutout/shared';
import { limitText, inMiB } from './sizes.js';

/**
 * Bodies up to this size are taken without asking the budget: a tiny start_job pays one
 * comparison, and however many of them are in flight their bodies hold little.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Retry-After on 503 BODY_BUDGET_FULL: the bodies ahead of it are read and released within seconds. */
export const BODY_BUDGET_RETRY_AFTER_S = 2;

/** The bytes one request holds of the budget; given back once (release is safe to call again). */
export interface BodyLease {
  readonly bytes: number;
  /** Takes `bytes` more as the body turns out larger (a compressed one inflating); 503 when they do not fit. */
  grow(bytes: number): void;
  release(): void;
}

/**
 * The request-body bytes the proxy holds at once (BODY_BUDGET_BYTES). A body of declared length
 * takes it all before a byte is read; a compressed body, or one of unknown length, takes its
 * decoded bytes as they come. A request that would go past the budget is refused with 503 (at
 * once, or as soon as its body outgrows what is left), so memory stays bounded whatever mix of
 * uploads arrives, and the uploads already taken are not slowed down.
 */
export class BodyBudget {
  #held = 0;
  #refused = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new TypeError(`BodyBudget: limit must be a positive whole number of bytes, got ${limit}`);
  }

  /** Bytes taken by bodies in flight. */
  get held(): number {
    return this.#held;
  }

  /** Requests refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Takes `bytes` for one request; 503 BODY_BUDGET_FULL when they do not fit. */
  take(bytes: number): BodyLease {
    this.#reserve(bytes, bytes);
    let held = bytes;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      grow: (more) => {
        if (released) return;
        this.#reserve(more, held + more);
        held += more;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#held -= held;
      },
    };
  }

  #reserve(bytes: number, requestBytes: number): void {
    if (this.#held + bytes > this.limit) {
      this.#refused += 1;
      throw new AppError(
        503,
        'BODY_BUDGET_FULL',
        `the proxy is already holding ${inMiB(this.#held)} of request bodies and this one needs ${inMiB(requestBytes)}, over its budget of ${limitText(this.limit, 'BODY_BUDGET_BYTES')}; nothing was queued: send the same request again after the Retry-After seconds`,
      );
    }
    this.#held += bytes;
  }
}

const leases = new WeakMap<ServerResponse, BodyLease>();

function leaseOf(res: ServerResponse, budget: BodyBudget, bytes: number): BodyLease {
  const lease = budget.take(bytes);
  leases.set(res, lease);
  res.once('close', lease.release);
  return lease;
}

/**
 * Takes `bytes` of the budget for this request unless its body is small; the lease is given back
 * when the response closes (answered, failed, or the client gone), or earlier by releaseBody.
 */
export function reserveBody(res: ServerResponse, budget: BodyBudget, bytes: number): void {
  if (bytes <= SMALL_BODY_BYTES || leases.has(res)) return;
  leaseOf(res, budget, bytes);
}

/** Takes `bytes` more for a body whose size shows only as it decodes. */
export function growBody(res: ServerResponse, budget: BodyBudget, bytes: number): void {
  const lease = leases.get(res);
  if (lease) lease.grow(bytes);
  else leaseOf(res, budget, bytes);
}

/** The request no longer holds its body (its images are queued): its bytes go back to the budget. */
export function releaseBody(res: ServerResponse): void {
  leases.get(res)?.release();
}
