import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Everything a chaos test started, so nothing outlives the test process even when a test fails. */
const live = new Set<ChildProcess>();
let hooked = false;

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Registers any child (also redis-server started elsewhere) for the last-resort kill on exit. */
export function trackChild(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    // 'exit' runs for a normal end and for process.exit; the signal handlers cover the test runner
    // stopping this file, where no 'exit' event would fire.
    process.once('exit', killAllNow);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAllNow();
        process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      });
    }
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface ChildOptions {
  /** Label in output lines and failure messages, e.g. "batch#2". */
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Receives each output line, already prefixed with the name. */
  onLine: (line: string) => void;
}

/** One running process: its output split into lines, signals, and a promise of its exit. */
export class ChildHandle {
  readonly name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;

  constructor(options: ChildOptions) {
    this.name = options.name;
    this.#child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(this.#child);
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const part of parts) options.onLine(`${this.name} | ${part}`);
      });
      stream?.on('end', () => rest !== '' && options.onLine(`${this.name} | ${rest}`));
    }
    this.exited = once(this.#child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child.kill(signal);
  }

  /** kill -9 and wait until the process is gone. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (after SIGCONT, in case it is stopped), SIGKILL after `graceMs`; resolves once gone. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return void (await this.exited);
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
