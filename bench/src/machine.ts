import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { REPO_ROOT } from '@cutout/dev';

/** What the figures were measured on, so two reports can be compared fairly. */
export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
  redisServer: string;
  commit: string;
  /** 1, 5 and 15 minute load averages when the bench started: other work skews the figures. */
  loadAverageAtStart: number[];
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineFacts(): MachineFacts {
  const dirty = run('git', ['status', '--porcelain']) !== '' ? ' (with uncommitted changes)' : '';
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    redisServer: run('redis-server', ['--version']).match(/v=(\S+)/)?.[1] ?? 'unknown',
    commit: `${run('git', ['rev-parse', '--short', 'HEAD'])}${dirty}`,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
