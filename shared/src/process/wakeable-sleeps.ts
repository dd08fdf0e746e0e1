/**
 * Sleeps a close() can cut short. A loop that backs off or polls sleeps here; at shutdown
 * wakeAll() resolves every sleep at once, so the loop sees it is stopping now rather than
 * after its longest backoff.
 */
export class WakeableSleeps {
  readonly #wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
