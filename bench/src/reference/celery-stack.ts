import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '@cutout/shared';
import type { PidMap } from '../process-stats.js';

/**
 * The FastAPI + Celery reference (bench/celery-reference/, in the style of seed 001): the stack the
 * issue measured cutout against, run here under the same client and load, so the comparison is
 * made on the same machine on the same minutes instead of against a figure from another day.
 */
export interface CeleryStack {
  proxyUrl: string;
  /** proxy: the uvicorn web process; batch: the Celery worker's main process; redis. */
  pids: PidMap;
  /** The Celery worker's pool children, whose CPU counts in the batch column. */
  poolPids(): number[];
  stop(): Promise<void>;
}

/** The reference needs these in a Python 3 (Debian: python3-celery python3-fastapi python3-uvicorn python3-redis python3-pil). */
const MODULES = ['celery', 'fastapi', 'uvicorn', 'redis', 'PIL'];
export const REFERENCE_INSTALL = 'apt-get install python3-celery python3-fastapi python3-uvicorn python3-redis python3-pil';

const SOURCE_DIR = fileURLToPath(new URL('../../celery-reference/', import.meta.url));

/** The reference cannot run here; the bench reports why and goes on. */
export class ReferenceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceUnavailableError';
  }
}

/** The first Python 3 that has every module the reference imports, or null. Debian's comes first: a pyenv shim may hide it. */
export function findReferencePython(candidates: readonly string[] = ['/usr/bin/python3', 'python3']): string | null {
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', `import ${MODULES.join(', ')}`], { stdio: 'ignore', timeout: 20_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

function ready(child: ChildProcess, role: string, probe: () => Promise<boolean>): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    let settled = false;
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`reference ${role} exited (${code}) before it was ready: ${output.slice(-500)}`));
      settled = true;
    });
    const deadline = performance.now() + 60_000;
    const check = async () => {
      if (settled) return;
      if (await probe().catch(() => false)) {
        settled = true;
        resolve();
      } else if (performance.now() > deadline) {
        settled = true;
        reject(new Error(`reference ${role} not ready after 60 s: ${output.slice(-500)}`));
      } else setTimeout(check, 100);
    };
    void check();
  });
}

/** The pids whose parent is `parent` (from /proc). */
function childrenOf(parent: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the fields after its closing one.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Redis (the bench's settings), a Celery worker with `workers` pool processes (prefork, as seed
 * 001 runs it) and uvicorn serving app.py. Each Python process gets its own process group, which
 * stop() kills whole, and exits with its group when the bench's end of its stdin closes.
 */
export async function startCeleryStack(workers: number): Promise<CeleryStack> {
  const python = findReferencePython();
  if (!python) throw new ReferenceUnavailableError(`no python3 with ${MODULES.join(', ')} here (Debian: ${REFERENCE_INSTALL})`);
  const redis = await startRedisServer({ appendOnly: true, maxmemory: '1gb' });
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await redis.stop();
  };
  try {
    const port = await freePort();
    const env = { ...process.env, REFERENCE_REDIS_URL: `${redis.url}/0`, REFERENCE_EXIT_WITH_STDIN: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const launch = (args: string[]) => {
      const child = spawn(python, args, { cwd: SOURCE_DIR, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      children.push(child);
      return child;
    };
    const worker = launch(['-m', 'celery', '-A', 'tasks', 'worker', '--pool', 'prefork', '--concurrency', String(workers), '--loglevel', 'WARNING', '--without-gossip', '--without-mingle', '--without-heartbeat']);
    await ready(worker, 'celery worker', async () => childrenOf(worker.pid!).length >= workers);
    const web = launch(['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning', '--no-access-log']);
    const proxyUrl = `http://127.0.0.1:${port}`;
    await ready(web, 'uvicorn', async () => (await fetch(`${proxyUrl}/get_job/ready-check`)).ok);
    return { proxyUrl, pids: { proxy: web.pid!, batch: worker.pid!, redis: redis.process.pid! }, poolPids: () => childrenOf(worker.pid!), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
