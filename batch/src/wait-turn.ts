/**
 * One idle worker at a time of this process blocks in Redis; the others wait here for their turn.
 * A push onto the queue wakes every blocked BLMOVE on it (the wait moves nothing, so the list
 * stays non-empty for the next blocked client), and each woken worker then ran the take script:
 * one job cost a take per idle worker. With one turn per process, a push wakes one worker, it
 * takes, and only after that take has returned does the next idle worker block: if more work is
 * queued its wait returns at once and it takes too. Nothing moves ids here, so no id is ever
 * held only in memory: every take is still the atomic Lua step.
 */
export class WaitTurn {
  #held = false;
  readonly #queue: (() => void)[] = [];
  #closed = false;

  /** Resolves once the caller holds the turn; call the returned release exactly once. */
  acquire(): Promise<() => void> {
    if (this.#closed) return Promise.resolve(() => undefined);
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => this.#queue.push(() => resolve(this.#releaser())));
  }

  /** Lets every waiting caller go (each gets a release that does nothing); later acquires return at once. */
  close(): void {
    this.#closed = true;
    for (const next of this.#queue.splice(0)) next();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next && !this.#closed) next();
      else this.#held = false;
    };
  }
}
