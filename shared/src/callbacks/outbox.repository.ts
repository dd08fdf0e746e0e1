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

export type SettleResult = 'delivered' | 'retry' | 'gave_up' | 'lost';

export interface DeadCallback {
  entry: string;
  attempts: number;
  error: string;
  failedAt: number;
}

/** The only code that reads or writes the callback outbox (`callback_outbox`, `callback_attempts`). */
export class OutboxRepository {
  readonly keys: QueueKeys;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keyPrefix: string; deadLetterMax: number },
  ) {
    this.keys = queueKeys(options.keyPrefix);
  }

  /** The delivery due longest, claimed for `leaseMs`; null when none is due. */
  async claim(leaseMs: number): Promise<ClaimedCallback | null> {
    const reply = (await claimCallbackScript.run(this.redis, [this.keys.outbox, this.keys.callbackAttempts], [String(Math.round(leaseMs))])) as [string, number] | [];
    if (reply.length === 0) return null;
    const [entry, attempt] = reply;
    const split = entry.indexOf(':');
    const kind = entry.slice(0, split) === 'group' ? 'group' : 'job';
    return { entry, kind, id: entry.slice(split + 1), attempt: Number(attempt) };
  }

  /** Records a claim's outcome; 'lost' when another claim has taken the entry since. */
  async settle(claim: ClaimedCallback, outcome: 'delivered' | 'failed', retry: { maxAttempts: number; delayMs: number; error: string }): Promise<SettleResult> {
    const reply = await settleCallbackScript.run(
      this.redis,
      [this.keys.outbox, this.keys.callbackAttempts, this.keys.counts, this.keys.callbackDead],
      [claim.entry, String(claim.attempt), outcome, String(retry.maxAttempts), String(Math.round(retry.delayMs)), retry.error.slice(0, 500), String(this.options.deadLetterMax)],
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
