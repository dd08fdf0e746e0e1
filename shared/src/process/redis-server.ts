import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir, type DirLock } from './dir-lock.js';
import { onFreePort } from './free-port.js';

export interface RedisServerOptions {
  port?: number;
  /** Keep an append-only file in the data directory (survives a restart on the same dir). */
  appendOnly?: boolean;
  /** When the append-only file is flushed to disk; default everysec ('always': every write before its reply). */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** maxmemory (e.g. '1gb'); default none (no limit). */
  maxmemory?: string;
  /**
   * Where data lives; a fresh temporary directory when not given. A given one is locked while the
   * server runs (dir-lock.ts): another start on it throws DataDirInUseError.
   */
  dir?: string;
  /** How the caller's user picks another folder, for DataDirInUseError's message (e.g. 'STACK_REDIS_DIR=<folder>'). */
  dirHint?: string;
  binary?: string;
  /** More redis-server arguments, e.g. ['--cluster-enabled', 'yes'] (after the defaults, so they win). */
  extraArgs?: readonly string[];
}

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and removes a temporary data dir; safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, no cleanup of the data dir: for crash tests. */
  kill(): Promise<void>;
}

export class RedisServerMissingError extends Error {
  constructor(binary: string) {
    super(
      `could not run "${binary}": install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) ` +
        'or set REDIS_URL to a running server, e.g. REDIS_URL=redis://127.0.0.1:6379',
    );
    this.name = 'RedisServerMissingError';
  }
}

// Servers still running from this process. They live in their own process group (see below), so
// a signal to ours does not reach them: kill them when this process exits, however it exits.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => live.forEach((c) => c.kill('SIGKILL')));
}

export function hasRedisServer(binary = 'redis-server'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

class RedisExitedError extends Error {}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new RedisExitedError(`redis-server exited with code ${child.exitCode} (port ${port})`));
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.write('PING\r\n');
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}

/**
 * Starts a private redis-server on 127.0.0.1 and resolves once it answers PING; without a port
 * it picks one (onFreePort: again if Redis could not have it).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = options.binary ?? 'redis-server';
  if (!hasRedisServer(binary)) throw new RedisServerMissingError(binary);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'cutout-redis-'));
  // A folder of its own needs no lock; a given one may be another run's.
  const lock = ownDir ? undefined : lockDataDir(dir, options.dirHint ?? 'another dir');
  try {
    // A Redis that exits before answering on a picked port most likely found it taken.
    return options.port !== undefined
      ? await launch(binary, options.port, { dir, ownDir, lock }, options)
      : await onFreePort((port) => launch(binary, port, { dir, ownDir, lock }, options), (error) => error instanceof RedisExitedError);
  } catch (error) {
    lock?.release();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

interface DataDir {
  dir: string;
  /** True when the folder was made here (temporary, removed on stop). */
  ownDir: boolean;
  lock: DirLock | undefined;
}

async function launch(binary: string, port: number, { dir, ownDir, lock }: DataDir, options: RedisServerOptions): Promise<RedisServerHandle> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'];
  args.push('--appendonly', options.appendOnly ? 'yes' : 'no', '--appendfsync', options.appendfsync ?? 'everysec');
  if (options.maxmemory !== undefined) args.push('--maxmemory', options.maxmemory);
  args.push(...(options.extraArgs ?? []));
  // Its own process group: a terminal's Ctrl-C must not stop Redis before the services that
  // still write to it have drained; whoever started it stops it last.
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  track(child);
  if (child.pid !== undefined) lock?.setChild(child.pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, 10_000);
  let stopped = false;
  const finish = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: child,
    async stop() {
      if (stopped) return;
      stopped = true;
      await finish('SIGTERM');
      lock?.release();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await finish('SIGKILL');
      // The data stays (for a start again on it); the folder is free once the server is gone.
      lock?.release();
    },
  };
}
