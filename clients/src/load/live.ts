import type { Sample } from './stats.js';

export interface Counts {
  sent: number;
  succeeded: number;
  failed: number;
  round: number;
  rounds: number;
}

export interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** TTY redraws this often; a plain log gets a line at most this often, and only when counts moved. */
const TTY_REDRAW_MS = 200;
const PLAIN_EVERY_MS = 2_000;

export function statusLine(c: Counts, elapsedMs: number): string {
  const done = c.succeeded + c.failed;
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  return `sent ${c.sent}  done ${c.succeeded}  failed ${c.failed}  in flight ${c.sent - done}  rate ${rate.toFixed(1)}/s  round ${c.round}/${c.rounds}  ${seconds.toFixed(1)} s`;
}

/**
 * The live view of a run on stderr: one line redrawn in place on a terminal, plain lines
 * otherwise. Verbose per-request lines go to stdout and never tear the live line.
 */
export class Live {
  private readonly counts: Counts;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private lastPlain = '';
  private readonly startedAt = performance.now();

  constructor(
    private readonly err: Stream,
    private readonly out: Stream,
    rounds: number,
    private readonly verbose: boolean,
  ) {
    this.counts = { sent: 0, succeeded: 0, failed: 0, round: 0, rounds };
    const every = err.isTTY ? TTY_REDRAW_MS : PLAIN_EVERY_MS;
    this.timer = setInterval(() => this.draw(), every);
    this.timer.unref();
  }

  private elapsed(): number {
    return performance.now() - this.startedAt;
  }

  private clear(): void {
    if (this.drawn) this.err.write('\r\x1b[K');
    this.drawn = false;
  }

  private draw(): void {
    const line = statusLine(this.counts, this.elapsed());
    if (this.err.isTTY) {
      const width = this.err.columns && this.err.columns > 20 ? this.err.columns : 80;
      this.clear();
      this.err.write(line.slice(0, width - 1));
      this.drawn = true;
      return;
    }
    const key = `${this.counts.sent} ${this.counts.succeeded} ${this.counts.failed}`;
    if (key === this.lastPlain) return;
    this.lastPlain = key;
    this.err.write(`${line}\n`);
  }

  /** Called once a round's requests are on their way. */
  roundStarted(round: number, requests: number): void {
    this.counts.round = round;
    if (!this.err.isTTY) this.err.write(`round ${round}/${this.counts.rounds}: sent ${requests} (${this.counts.sent} in all)\n`);
    else this.draw();
  }

  sent(): void {
    this.counts.sent += 1;
  }

  finished(sample: Sample, id: string | undefined): void {
    if (sample.ok) this.counts.succeeded += 1;
    else this.counts.failed += 1;
    if (!this.verbose) return;
    const what = sample.ok ? `ok ${id ?? ''}`.trimEnd() : `failed ${sample.code}`;
    this.clear();
    this.out.write(`round ${sample.round}  ${Math.round(sample.latencyMs)} ms  ${what}\n`);
    if (this.err.isTTY) this.draw();
  }

  /** Stops redrawing and leaves the terminal clean for the table. */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.err.isTTY) this.clear();
    else this.draw();
  }
}
