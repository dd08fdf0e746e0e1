import type { RedisClient } from '../redis/client.js';
import { queueKeys, type QueueKeys } from '../redis/keys.js';
import { claimCallbackScript, settleCallbackScript } from '../redis/scripts/callback.js';

/** A claimed delivery: which job or group, and this claim's attempt number (its fence). */
export interface ClaimedCallback {
  readonly entry: string;
  readonly kind: 'job' | 'group';
  readonly id: string;
  readonly attempt: number;
}

/** What a claim found: a delivery, nothing due, or more work than one call does (claim again at once). */
export type ClaimResult = ClaimedCallback | 'none' | 'again';

export type SettleResult = 'delivered' | 'retry' | 'gave_up' | 'lost';

export interface SettleOptions {
  maxAttempts: number;
  delayMs: number;
  error: string;
  /** True when the receiver failed (no answer, an error, a non-2xx answer): it rests. False when the attempt failed before reaching it. */
  receiverFailed: boolean;
}

export interface DeadCallback {
  entry: string;
  attempts: number;
  error: string;
  failedAt: number;
}

export interface OutboxRepositoryOptions {
  keyPrefix: string;
  deadLetterMax: number;
  /** CALLBACK_KEY_CONCURRENCY: most deliveries in flight at once for one API key (or one receiver, for jobs without a key). */
  laneConcurrency: number;
  /** A failing receiver's first rest; it doubles with each failure in a row up to restMaxMs. Defaults 1 s and 5 min. */
  restBaseMs?: number;
  restMaxMs?: number;
}

/** The claim script's reply, decoded. */
export function decodeClaim(reply: unknown): ClaimResult {
  if (!Array.isArray(reply) || reply.length === 0) return 'none';
  const [entry, attempt] = reply as [string, number | undefined];
  if (entry === '' || attempt === undefined) return 'again';
  const split = entry.indexOf(':');
  const kind = entry.slice(0, split) === 'group' ? 'group' : 'job';
  return { entry, kind, id: entry.slice(split + 1), attempt: Number(attempt) };
}

/** The only code that reads or writes the callback outbox and its lanes (the `callback_*` keys). */
export class OutboxRepository {
  readonly keys: QueueKeys;
  readonly #o: Required<OutboxRepositoryOptions>;

  constructor(
    private readonly redis: RedisClient,
    options: OutboxRepositoryOptions,
  ) {
    if (!Number.isSafeInteger(options.laneConcurrency) || options.laneConcurrency < 1) {
      throw new TypeError(`OutboxRepository: laneConcurrency must be a whole number of at least 1, got ${options.laneConcurrency}`);
    }
    this.#o = { restBaseMs: 1_000, restMaxMs: 300_000, ...options };
    this.keys = queueKeys(options.keyPrefix);
  }

  /** The keys both scripts take first, in the order their header lists. */
  #laneKeys(): string[] {
    const k = this.keys;
    return [k.outbox, k.callbackAttempts, k.callbackQueue, k.callbackLanesReady, k.callbackLanesWaiting, k.callbackLanesServed, k.callbackLanesBusy, k.callbackInflight, k.callbackRest, k.callbackFailures];
  }

  /** The next delivery, in the turn of its lane, claimed for `leaseMs`. */
  async claim(leaseMs: number): Promise<ClaimResult> {
    const reply = await claimCallbackScript.run(this.redis, this.#laneKeys(), [String(Math.round(leaseMs)), String(this.#o.laneConcurrency)]);
    return decodeClaim(reply);
  }

  /** Records a claim's outcome; 'lost' when another claim has taken the entry since. */
  async settle(claim: ClaimedCallback, outcome: 'delivered' | 'failed', retry: SettleOptions): Promise<SettleResult> {
    const o = this.#o;
    const reply = await settleCallbackScript.run(
      this.redis,
      [...this.#laneKeys(), this.keys.counts, this.keys.callbackDead],
      [
        claim.entry,
        String(claim.attempt),
        outcome,
        String(retry.maxAttempts),
        String(Math.round(retry.delayMs)),
        retry.error.slice(0, 500),
        String(o.deadLetterMax),
        String(o.laneConcurrency),
        retry.receiverFailed ? '1' : '0',
        String(Math.round(o.restBaseMs)),
        String(Math.round(o.restMaxMs)),
      ],
    );
    return reply === 'delivered' || reply === 'retry' || reply === 'gave_up' ? reply : 'lost';
  }

  /** Deliveries that gave up, newest first. */
  async dead(limit: number): Promise<DeadCallback[]> {
    const lines = await this.redis.lRange(this.keys.callbackDead, 0, Math.max(0, limit - 1));
    return lines.flatMap((line) => {
      try {
        const d = JSON.parse(line) as { entry: string; attempts: number; error: string; failed_at: number };
        return [{ entry: d.entry, attempts: d.attempts, error: d.error, failedAt: d.failed_at }];
      } catch {
        return [];
      }
    });
  }
}
