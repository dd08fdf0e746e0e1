import type { V1Job } from '@cutout/shared/contract';
import { ApiProblem, type Api } from './api.js';
import type { Card } from './card.js';

/**
 * Long polls in flight at once. A browser opens about six connections per host; each long poll
 * holds one for up to WAIT_S seconds, so a few must stay free for uploads and downloads.
 */
const POLL_SLOTS = 3;
/** Pause before asking again after a poll got no answer at all (the server restarting). */
const RETRY_AFTER_ERROR_MS = 3_000;

const isFinal = (job: V1Job) => job.status !== 'QUEUED' && job.status !== 'RUNNING';

/**
 * Keeps every card's status current with GET /v1/jobs/{id}?wait=: each call returns the moment
 * its job ends (or after WAIT_S), so nothing polls in a tight loop. Cards are polled oldest first,
 * the order the queue serves them; one that is still waiting goes to the back of the line.
 */
export class JobWatcher {
  private readonly line: Card[] = [];
  private inFlight = 0;

  constructor(
    private readonly api: Api,
    private readonly onEnded: (card: Card, job: V1Job) => void,
  ) {}

  watch(card: Card): void {
    this.line.push(card);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < POLL_SLOTS && this.line.length > 0) {
      const card = this.line.shift()!;
      this.inFlight += 1;
      void this.poll(card).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async poll(card: Card): Promise<void> {
    const id = card.job?.id;
    if (id === undefined) return;
    try {
      const job = await this.api.waitForJob(id);
      card.update(job);
      if (isFinal(job)) this.onEnded(card, job);
      else this.line.push(card);
    } catch (error) {
      card.trouble(error);
      // A 4xx (the job expired, the key was refused) will not change by asking again.
      if (error instanceof ApiProblem && error.status < 500) return;
      await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_ERROR_MS));
      this.line.push(card);
    }
  }
}
