import type { Agent } from 'undici';
import { request } from 'undici';
import type { Logger } from '../logger.js';
import { errorMessage } from '../error-message.js';
import { WakeableSleeps } from '../process/wakeable-sleeps.js';
import type { JobRepository } from '../redis/job.repository.js';
import { toGroupView, toV1Job } from '../contract/views.js';
import { pinnedAgent } from '../outbound/pinned-agent.js';
import { checkCallbackUrl, type Lookup, type OutboundTarget } from '../outbound/url-guard.js';
import type { ClaimedCallback, ClaimResult, OutboxRepository } from './outbox.repository.js';
import { signCallback } from './signature.js';

/** Which secret signs whose callbacks (CONTRACT §13). */
export interface CallbackSecrets {
  /** CALLBACK_SECRET: signs the callbacks of jobs without a key, or of keys without their own; '' for none. */
  readonly fallback: string;
  /** API key name → its callback_secret. */
  readonly byKey: ReadonlyMap<string, string>;
}

/** The secret for a job's or group's owner: its key's own, else CALLBACK_SECRET; null when neither is set. */
export function secretFor(secrets: CallbackSecrets, owner: string | null): string | null {
  const own = owner === null ? undefined : secrets.byKey.get(owner);
  return own ?? (secrets.fallback === '' ? null : secrets.fallback);
}

export interface CallbackDelivererOptions {
  outbox: Pick<OutboxRepository, 'claim' | 'settle'>;
  jobs: Pick<JobRepository, 'get' | 'getGroup'>;
  logger: Logger;
  secrets: CallbackSecrets;
  /** CALLBACK_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** CALLBACK_TIMEOUT_MS: one attempt whole: the URL's check (name lookup included), connect, the request, the answer. */
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
 * Delivers the outbox: claims the next entry in its lane's turn (any batch or proxy process
 * may), builds the job's or group's JSON, checks the URL again and connects to the checked
 * address, POSTs it signed with its key's secret, and settles the claim. An attempt, name lookup
 * to last byte, is held to CALLBACK_TIMEOUT_MS, so it always ends before its claim's lease.
 * At-least-once: a process that dies mid-delivery leaves its claim to expire and another
 * delivers it again, with the next attempt number (X-Cutout-Delivery), so a receiver can tell a
 * repeat from a new event.
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
      let claim: ClaimResult = 'none';
      try {
        claim = await this.#o.outbox.claim(leaseMs);
      } catch (error) {
        this.#o.logger.debug('callback outbox unreachable', { error: (error as Error).message });
      }
      if (typeof claim === 'object') await this.#deliver(claim);
      else if (claim === 'none') await this.#sleeps.sleep(this.#o.pollMs);
    }
  }

  async #deliver(claim: ClaimedCallback): Promise<void> {
    const { logger } = this.#o;
    const fields = { callback: claim.entry, attempt: claim.attempt };
    const deadline = AbortSignal.timeout(this.#o.timeoutMs);
    let outcome: 'delivered' | 'failed' = 'failed';
    let reached = false;
    let error = '';
    try {
      const { url, body, owner } = await this.#payload(claim);
      const secret = secretFor(this.#o.secrets, owner);
      if (secret === null) throw new DeliveryFailed(`no secret to sign with: API key ${JSON.stringify(owner)} has no callback_secret and CALLBACK_SECRET is not set`);
      // From here a failure is the receiver's: it rests, and its other callbacks wait.
      reached = true;
      const target = await checkCallbackUrl(url, this.#o.allowHosts, this.#o.lookup, deadline);
      await this.#post(target, body, secret, claim, deadline);
      outcome = 'delivered';
    } catch (failure) {
      error = deadline.aborted ? `no answer within ${this.#o.timeoutMs} ms (CALLBACK_TIMEOUT_MS)` : errorMessage(failure);
    }
    const delayMs = Math.min(this.#o.baseDelayMs * 2 ** (claim.attempt - 1), this.#o.maxDelayMs) * (0.75 + Math.random() * 0.5);
    try {
      const settled = await this.#o.outbox.settle(claim, outcome, { maxAttempts: this.#o.maxAttempts, delayMs, error, receiverFailed: reached });
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

  async #payload(claim: ClaimedCallback): Promise<{ url: string; body: string; owner: string | null }> {
    if (claim.kind === 'job') {
      const record = await this.#o.jobs.get(claim.id, { withImages: false });
      if (!record?.callbackUrl) throw new DeliveryFailed(`job ${claim.id} is gone or has no callback_url`);
      return { url: record.callbackUrl, body: JSON.stringify(toV1Job(record)), owner: record.owner };
    }
    const found = await this.#o.jobs.getGroup(claim.id);
    if (!found?.group.callbackUrl) throw new DeliveryFailed(`group ${claim.id} is gone or has no callback_url`);
    return { url: found.group.callbackUrl, body: JSON.stringify(toGroupView(found.group, found.jobs)), owner: found.group.owner };
  }

  async #post(target: OutboundTarget, body: string, secret: string, claim: ClaimedCallback, deadline: AbortSignal): Promise<void> {
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
          'x-cutout-signature': signCallback(secret, timestamp, body),
          'x-cutout-delivery': `${claim.entry}:${claim.attempt}`,
        },
        signal: deadline,
      });
      // The answer's body is not wanted: up to 64 KiB of it is read, within the same deadline.
      await res.body.dump({ limit: 64 * 1024, signal: deadline });
      // A redirect is an answer, not an address to follow: it counts as a failed attempt.
      if (res.statusCode < 200 || res.statusCode > 299) throw new DeliveryFailed(`the receiver answered ${res.statusCode}`);
    } catch (error) {
      if (error instanceof DeliveryFailed) throw error;
      throw new DeliveryFailed(`POST ${target.url.origin}: ${(error as Error).message}`);
    } finally {
      this.#agents.delete(agent);
      agent.destroy().catch(() => undefined);
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
