import { request, type Agent } from 'undici';
import type { Logger } from '../logger.js';
import { errorMessage } from '../error-message.js';
import { WakeableSleeps } from '../process/wakeable-sleeps.js';
import type { JobRepository } from '../redis/job.repository.js';
import { toGroupView, toV1Job } from '../contract/views.js';
import type { ClaimedCallback, OutboxRepository } from './outbox.repository.js';
import { signCallback } from './signature.js';
import { pinnedAgent } from '../outbound/pinned-agent.js';
import { checkCallbackUrl, type Lookup, type OutboundTarget } from '../outbound/url-guard.js';

export interface CallbackDelivererOptions {
  outbox: Pick<OutboxRepository, 'claim' | 'settle'>;
  jobs: Pick<JobRepository, 'get' | 'getGroup'>;
  logger: Logger;
  /** CALLBACK_SECRET. */
  secret: string;
  /** CALLBACK_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** CALLBACK_TIMEOUT_MS: one attempt, connect to last byte. */
  timeoutMs: number;
  /** CALLBACK_ALLOW_HOSTS. */
  allowHosts: ReadonlySet<string>;
  /** Deliveries in flight at once in this process. Default 2. */
  concurrency?: number;
  /** How often an idle deliverer looks at the outbox. Default 500 ms. */
  pollMs?: number;
  /** First retry delay; doubles each attempt up to maxDelayMs. Defaults 1 s and 5 min. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  lookup?: Lookup;
  /** Who we are, in each delivery's User-Agent and the logs. */
  name: string;
  /** Told each attempt's settled outcome (delivered, retry, gave_up, or not_recorded): the metrics hook. */
  onOutcome?: (outcome: string) => void;
}

/** Why an attempt failed, said the same way in the logs and the dead list. */
class DeliveryFailed extends Error {}

/**
 * Delivers the outbox: claims a due entry (any batch or proxy process may), builds the job's or
 * group's JSON, checks the URL again and connects to the checked address, POSTs it signed,
 * and settles the claim. At-least-once: a process that dies mid-delivery leaves its claim to
 * expire and another delivers it again, with the next attempt number (X-Cutout-Delivery), so a
 * receiver can tell a repeat from a new event.
 */
export class CallbackDeliverer {
  readonly #o: Required<Omit<CallbackDelivererOptions, 'lookup' | 'onOutcome'>> & Pick<CallbackDelivererOptions, 'lookup' | 'onOutcome'>;
  readonly #loops: Promise<void>[] = [];
  readonly #agents = new Set<Agent>();
  #stopping = false;
  readonly #sleeps = new WakeableSleeps();
  #closing: Promise<void> | null = null;

  constructor(options: CallbackDelivererOptions) {
    this.#o = { concurrency: 2, pollMs: 500, baseDelayMs: 1_000, maxDelayMs: 300_000, ...options };
  }

  start(): void {
    if (this.#loops.length > 0 || this.#stopping) return;
    for (let i = 0; i < this.#o.concurrency; i++) this.#loops.push(this.#loop());
  }

  async #loop(): Promise<void> {
    // The claim lasts past the attempt's own deadline, so a slow receiver is not delivered twice at once.
    const leaseMs = this.#o.timeoutMs + 5_000;
    while (!this.#stopping) {
      let claim: ClaimedCallback | null = null;
      try {
        claim = await this.#o.outbox.claim(leaseMs);
      } catch (error) {
        this.#o.logger.debug('callback outbox unreachable', { error: (error as Error).message });
      }
      if (claim) await this.#deliver(claim);
      else await this.#sleeps.sleep(this.#o.pollMs);
    }
  }

  async #deliver(claim: ClaimedCallback): Promise<void> {
    const { logger } = this.#o;
    const fields = { callback: claim.entry, attempt: claim.attempt };
    let outcome: 'delivered' | 'failed' = 'failed';
    let error = '';
    try {
      const { url, body } = await this.#payload(claim);
      const target = await checkCallbackUrl(url, this.#o.allowHosts, this.#o.lookup);
      await this.#post(target, body, claim);
      outcome = 'delivered';
    } catch (failure) {
      error = errorMessage(failure);
    }
    const delayMs = Math.min(this.#o.baseDelayMs * 2 ** (claim.attempt - 1), this.#o.maxDelayMs) * (0.75 + Math.random() * 0.5);
    try {
      const settled = await this.#o.outbox.settle(claim, outcome, { maxAttempts: this.#o.maxAttempts, delayMs, error });
      this.#o.onOutcome?.(String(settled));
      if (settled === 'delivered') logger.info('callback delivered', fields);
      else if (settled === 'retry') logger.warn('callback failed; will retry', { ...fields, error, delay_ms: Math.round(delayMs) });
      else if (settled === 'gave_up') logger.error('callback gave up', { ...fields, error, max_attempts: this.#o.maxAttempts });
    } catch (failure) {
      // The claim expires and the entry is delivered again: at least once, never lost.
      this.#o.onOutcome?.('not_recorded');
      logger.warn('callback outcome not recorded', { ...fields, outcome, error: errorMessage(failure) });
    }
  }

  async #payload(claim: ClaimedCallback): Promise<{ url: string; body: string }> {
    if (claim.kind === 'job') {
      const record = await this.#o.jobs.get(claim.id, { withImages: false });
      if (!record?.callbackUrl) throw new DeliveryFailed(`job ${claim.id} is gone or has no callback_url`);
      return { url: record.callbackUrl, body: JSON.stringify(toV1Job(record)) };
    }
    const found = await this.#o.jobs.getGroup(claim.id);
    if (!found?.group.callbackUrl) throw new DeliveryFailed(`group ${claim.id} is gone or has no callback_url`);
    return { url: found.group.callbackUrl, body: JSON.stringify(toGroupView(found.group, found.jobs)) };
  }

  async #post(target: OutboundTarget, body: string, claim: ClaimedCallback): Promise<void> {
    const agent = pinnedAgent(target);
    this.#agents.add(agent);
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await request(target.url, {
        method: 'POST',
        dispatcher: agent,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': `cutout-callbacks (${this.#o.name})`,
          'x-cutout-timestamp': String(timestamp),
          'x-cutout-signature': signCallback(this.#o.secret, timestamp, body),
          'x-cutout-delivery': `${claim.entry}:${claim.attempt}`,
        },
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.body.dump();
      // A redirect is an answer, not an address to follow: it counts as a failed attempt.
      if (res.statusCode < 200 || res.statusCode > 299) throw new DeliveryFailed(`the receiver answered ${res.statusCode}`);
    } catch (error) {
      if (error instanceof DeliveryFailed) throw error;
      const name = (error as Error).name === 'TimeoutError' ? `no answer within ${this.#o.timeoutMs} ms (CALLBACK_TIMEOUT_MS)` : (error as Error).message;
      throw new DeliveryFailed(`POST ${target.url.origin}: ${name}`);
    } finally {
      this.#agents.delete(agent);
      void agent.close();
    }
  }

  /** Stops claiming, lets deliveries in flight end, closes. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true;
      this.#sleeps.wakeAll();
      await Promise.allSettled(this.#loops);
      await Promise.allSettled([...this.#agents].map((a) => a.destroy()));
    })();
    return this.#closing;
  }
}
