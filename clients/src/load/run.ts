import type { Payload, Send } from './apis.js';
import { LoadFailure } from './http.js';
import type { Live } from './live.js';
import type { Sample } from './stats.js';

export interface RunPlan {
  requests: number;
  rounds: number;
  /** undefined: closed loop (a round starts when the last has ended). */
  intervalMs: number | undefined;
  /** Images per request. */
  perRequest: number;
  timeoutMs: number;
}

export interface RunResult {
  samples: Sample[];
  /** From the first request sent to the last one ended. */
  durationMs: number;
}

const sleepUntil = (at: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/**
 * Sends the plan's requests. Closed loop (seed 002's test_script.py): N in parallel, each waiting
 * for its result, the next round once they all have. Open loop (run_multiple_tests.py -T):
 * round r starts at r×T on the monotonic clock whatever is still in flight, so a slow server
 * meets more and more requests instead of the client politely waiting for it.
 */
export async function runLoad(plan: RunPlan, images: readonly Payload[], send: Send, live: Live): Promise<RunResult> {
  if (images.length === 0) throw new Error('runLoad: no images to send');
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const t0 = performance.now();
  let nextImage = 0;

  const launch = (round: number) => {
    const batch: Payload[] = [];
    for (let i = 0; i < plan.perRequest; i++) batch.push(images[nextImage++ % images.length]!);
    const startedAt = performance.now();
    live.sent();
    const done = (ok: boolean, id: string | undefined, code?: string) => {
      const sample: Sample = { round, startMs: startedAt - t0, latencyMs: performance.now() - startedAt, ok, images: batch.length, ...(code === undefined ? {} : { code }) };
      samples.push(sample);
      live.finished(sample, id);
    };
    const request: Promise<void> = send(batch, AbortSignal.timeout(plan.timeoutMs))
      .then(
        (id) => done(true, id),
        (error: unknown) => done(false, undefined, error instanceof LoadFailure ? error.code : 'CLIENT_ERROR'),
      )
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };

  for (let round = 1; round <= plan.rounds; round++) {
    if (plan.intervalMs !== undefined) await sleepUntil(t0 + (round - 1) * plan.intervalMs);
    for (let i = 0; i < plan.requests; i++) launch(round);
    live.roundStarted(round, plan.requests);
    if (plan.intervalMs === undefined) await Promise.all(inFlight);
  }
  await Promise.all(inFlight);
  samples.sort((a, b) => a.startMs - b.startMs);
  return { samples, durationMs: performance.now() - t0 };
}
