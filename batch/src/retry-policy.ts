export interface RetryPolicy {
  /** Delay before the second attempt; each later one doubles it. */
  baseDelayMs: number;
  /** Cap on the delay, before jitter. */
  maxDelayMs: number;
}

/**
 * How long a job waits before its next attempt after failing attempt `attempt` (from 1):
 * min(max, base · 2^(attempt-1)), with "equal jitter" (half fixed, half random) so jobs that
 * failed together, say when predict restarted, do not all come back at the same moment.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.round(capped / 2 + random() * (capped / 2));
}
