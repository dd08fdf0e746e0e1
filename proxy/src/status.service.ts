import type { JobStore, UploadLimits } from './jobs.service.js';
import type { RedisGuard } from './redis-guard.js';

export interface Metadata {
  status: 'ok';
  /** delayed: waiting for a retry to come due (still QUEUED to clients). */
  queue: { queued: number; running: number; delayed: number; by_priority: Record<string, number> };
  jobs: { submitted: number; succeeded: number; failed: number; cancelled: number };
  /** Callback deliveries waiting or in flight, delivered, given up. */
  callbacks: { pending: number; delivered: number; failed: number };
  /** Left out while API keys are on: a key holder learns counts, not the deployment. */
  model?: string;
  limits?: { max_image_bytes: number; max_image_pixels: number };
  job_ttl_seconds?: number;
}

export interface StatusServiceDeps {
  jobs: JobStore;
  guard: RedisGuard;
  limits: UploadLimits;
  model: string;
  jobTtlSeconds: number;
  /** A health check must answer quickly even when Redis does not. */
  healthTimeoutMs: number;
  /** With API keys on, /metadata shows only counts. */
  countsOnly?: boolean;
}

export class StatusService {
  constructor(private readonly deps: StatusServiceDeps) {}

  /** Resolves while Redis answers PING; otherwise throws 503 REDIS_UNAVAILABLE. */
  async health(): Promise<void> {
    await this.deps.guard('ping', () => this.deps.jobs.ping(), { timeoutMs: this.deps.healthTimeoutMs, probe: true });
  }

  /** Counts only: listing jobs would leak ids (each one is a key to someone's image). */
  async metadata(): Promise<Metadata> {
    const stats = await this.deps.guard('stats', () => this.deps.jobs.stats());
    const counts = {
      status: 'ok' as const,
      queue: { queued: stats.queued, running: stats.running, delayed: stats.delayed, by_priority: stats.queuedByPriority },
      jobs: { submitted: stats.submitted, succeeded: stats.succeeded, failed: stats.failed, cancelled: stats.cancelled },
      callbacks: { pending: stats.callbacksPending, delivered: stats.callbacksDelivered, failed: stats.callbacksFailed },
    };
    if (this.deps.countsOnly) return counts;
    return {
      ...counts,
      model: this.deps.model,
      limits: { max_image_bytes: this.deps.limits.maxImageBytes, max_image_pixels: this.deps.limits.maxImagePixels },
      job_ttl_seconds: this.deps.jobTtlSeconds,
    };
  }
}
