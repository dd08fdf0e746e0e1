import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChildHandle } from './child.js';
import { errorMessage } from '@cutout/shared';

export interface ServiceOptions {
  /** "predict", "proxy", "batch#1": the label in output lines. */
  name: string;
  /** Package folder whose dist/main.js is started. */
  service: 'predict' | 'proxy' | 'batch';
  repoRoot: string;
  env: Record<string, string>;
  /** GET <healthUrl> answers 200 once the service is ready; batch has none. */
  healthUrl?: string;
  /** Shared sink of every output line of the cluster. */
  onLine: (line: string) => void;
}

/** A service that can be killed, stopped, paused and started again with the same settings and port. */
export class ChaosService {
  readonly name: string;
  #generation = 0;
  #current: ChildHandle | undefined;
  readonly #options: ServiceOptions;

  constructor(options: ServiceOptions) {
    this.name = options.name;
    this.#options = options;
  }

  get running(): boolean {
    return this.#current?.running ?? false;
  }

  get pid(): number | undefined {
    return this.#current?.pid;
  }

  /** Starts a new process (the old one must be gone) and waits for its health check if it has one. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.#generation += 1;
    const label = this.#generation === 1 ? this.name : `${this.name}(${this.#generation})`;
    this.#current = new ChildHandle({
      name: label,
      command: process.execPath,
      args: [join(this.#options.repoRoot, this.#options.service, 'dist', 'main.js')],
      env: this.#options.env,
      cwd: this.#options.repoRoot,
      onLine: this.#options.onLine,
    });
    if (this.#options.healthUrl !== undefined) await this.waitHealthy(timeoutMs);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const url = this.#options.healthUrl;
    if (url === undefined) return;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited before it was healthy`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (error) {
        last = errorMessage(error);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} not healthy within ${timeoutMs} ms (last: ${last})`);
      await sleep(50);
    }
  }

  /** kill -9, waiting until the process is gone. */
  async kill(): Promise<void> {
    await this.#current?.kill();
  }

  /** SIGSTOP: the process freezes with its sockets open, like a hung server. */
  pause(): void {
    this.#current?.signal('SIGSTOP');
  }

  resume(): void {
    this.#current?.signal('SIGCONT');
  }

  signal(signal: NodeJS.Signals): void {
    this.#current?.signal(signal);
  }

  /** Graceful stop (SIGTERM), SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    await this.#current?.stop(graceMs);
  }

  async restart(timeoutMs?: number): Promise<void> {
    await this.kill();
    await this.start(timeoutMs);
  }
}
