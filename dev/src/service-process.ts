import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { LineSplitter } from './log-format.js';

export interface ServiceExit {
  service: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the service printed last, for the error message when it dies during start-up. */
  lastLines: string[];
}

export interface ServiceProcessOptions {
  name: string;
  /** The service's compiled main.js. */
  entry: string;
  /** node's own flags, before the entry. */
  nodeFlags?: readonly string[];
  cwd: string;
  env: Record<string, string>;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  keepLines?: number;
}

/** The entry script is missing: the services were not built. */
export class EntryMissingError extends Error {
  constructor(name: string, entry: string) {
    super(`${name}: ${entry} does not exist; build first with "npm run build" (npm start does it for you)`);
    this.name = 'EntryMissingError';
  }
}

/** One `node [flags] <entry>` child, its output split into lines, and a stop that escalates to SIGKILL. */
export class ServiceProcess {
  readonly name: string;
  readonly exited: Promise<ServiceExit>;
  private readonly child: ChildProcess;
  private readonly recent: string[] = [];
  private stopping: Promise<void> | undefined;

  constructor(options: ServiceProcessOptions) {
    if (!existsSync(options.entry)) throw new EntryMissingError(options.name, options.entry);
    this.name = options.name;
    const keep = options.keepLines ?? 30;
    // Own process group: a Ctrl-C on the terminal reaches only the launcher, which then stops the
    // services one by one in the right order instead of all at once.
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), options.entry], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const record = (stream: 'stdout' | 'stderr') => (line: string) => {
      this.recent.push(line);
      if (this.recent.length > keep) this.recent.shift();
      options.onLine(line, stream);
    };
    const out = new LineSplitter(record('stdout'));
    const err = new LineSplitter(record('stderr'));
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => out.push(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        out.flush();
        err.flush();
        resolve({ service: this.name, code, signal, lastLines: [...this.recent] });
      };
      // 'close' waits for the pipes to drain, so the last lines are in `recent` before anyone reads them.
      this.child.once('close', done);
      this.child.once('error', (error) => {
        this.recent.push(String(error));
        if (this.child.pid === undefined) done(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  lastLines(): string[] {
    return [...this.recent];
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call twice. */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.running) {
        await this.exited;
        return;
      }
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process 'exit': no waiting is possible there. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}
