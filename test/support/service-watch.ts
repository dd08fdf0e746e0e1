import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a hostile request did to a service: how much memory it took, how long it could not answer. */

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** The process's resident memory now, in MiB. */
export function rssMiB(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** The most resident memory the process has had (since it started, or since resetPeakRss), in MiB. */
export function peakRssMiB(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/**
 * Makes the process's peak its current resident memory (Linux: `5` into clear_refs), so that
 * peakRssMiB then measures what comes after. False where the kernel does not allow it; the peak
 * then still counts from the start.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface HealthReport {
  /** Answers 200. */
  answers: number;
  /** Everything else: other statuses, errors, timeouts. */
  failures: string[];
  /** Longest time between two answers (or from the start to the first): how long the service could not answer. */
  longestGapMs: number;
}

export interface HealthWatch {
  stop(): Promise<HealthReport>;
}

/**
 * Asks `url` (a GET /health) again and again, one request at a time with `pauseMs` between, until
 * stopped. A service whose event loop is blocked answers nothing meanwhile, so the longest gap
 * between answers is the longest stall it had (plus a pause and a request's round trip).
 */
export function watchHealth(url: string, pauseMs = 10): HealthWatch {
  const report: HealthReport = { answers: 0, failures: [], longestGapMs: 0 };
  let stopped = false;
  let last = performance.now();
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
        await res.arrayBuffer();
        if (res.status === 200) report.answers++;
        else report.failures.push(`status ${res.status}`);
      } catch (error) {
        report.failures.push(error instanceof Error ? error.message : String(error));
      }
      const now = performance.now();
      report.longestGapMs = Math.max(report.longestGapMs, now - last);
      last = now;
      await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      report.longestGapMs = Math.round(report.longestGapMs);
      return report;
    },
  };
}
