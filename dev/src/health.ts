import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between attempts: an error here (a service died) ends the wait at once. */
  failure?: () => Error | undefined;
  /** Any HTTP answer ends the wait, not only a 200: the server is listening, healthy or not. */
  anyAnswer?: boolean;
}

/** Polls `url` until it answers 200; the last status or error goes into the timeout message. */
export async function waitForHealthy(url: string, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const failure = options.failure?.();
    if (failure) throw failure;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status === 200 || options.anyAnswer) return;
      last = `${res.status} ${body.slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${url} was not healthy within ${options.timeoutMs} ms (last answer: ${last})`);
    await sleep(options.intervalMs ?? 100);
  }
}
