import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { round } from './stats.js';

/** Process ids by role: the services, Redis and the bench itself. */
export type PidMap = Record<string, number>;

let ticksPerSecond: number | undefined;

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const text = readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds the process (all its threads) has used so far. */
export function cpuSeconds(pid: number): number | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  // utime and stime are fields 14 and 15 of stat; the slice above starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** A "VmHWM:  12345 kB" style line of /proc/<pid>/status, in MiB. */
function statusMb(pid: number, key: 'VmHWM' | 'VmRSS'): number | undefined {
  const match = readText(`/proc/${pid}/status`)?.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'));
  return match ? round(Number(match[1]) / 1024, 1) : undefined;
}

/** Peak resident memory (VmHWM) of each process, in MiB; a gone process is left out. */
export function peakMemoryMb(pids: PidMap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const mb = statusMb(pid, 'VmHWM');
    if (mb !== undefined) out[name] = mb;
  }
  return out;
}

const ROLES: readonly [string, RegExp][] = [
  ['predict', /predict\/dist\/main\.js/],
  ['batch', /batch\/dist\/main\.js/],
  ['proxy', /proxy\/dist\/main\.js/],
  ['redis', /redis-server/],
];

/**
 * The stack's processes found among this process's live children by their command lines, for a
 * stack handle that does not report its pids. The newest child of each role wins.
 */
export function childPidsByRole(): PidMap {
  const found: PidMap = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const fields = statFields(pid);
    if (!fields || Number(fields[1]) !== process.pid || fields[0] === 'Z') continue;
    const command = (readText(`/proc/${pid}/cmdline`) ?? '').replaceAll('\0', ' ');
    const role = ROLES.find(([, pattern]) => pattern.test(command))?.[0];
    if (role && (found[role] === undefined || pid > found[role]!)) found[role] = pid;
  }
  return found;
}

/** CPU seconds the whole machine has spent busy (all cores, every process), from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  const line = readText('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return undefined;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks();
}

export interface CpuUsage {
  wallMs: number;
  /** CPU seconds used by each process during the interval. */
  seconds: Record<string, number>;
  /** CPU used as cores busy on average (seconds / wall seconds); 1.0 = one core fully busy. */
  cores: Record<string, number>;
  totalCores: number;
  /** Cores busy machine-wide, and the part of that no measured process accounts for (other work on the machine). */
  machineCores: number | undefined;
  otherCores: number | undefined;
}

/** Measures the CPU each process uses between start and stop. */
export class CpuMeter {
  private readonly before: Record<string, number> = {};
  private readonly machineBefore = machineBusySeconds();
  private readonly startedAt = performance.now();

  constructor(private readonly pids: PidMap) {
    for (const [name, pid] of Object.entries(pids)) {
      const seconds = cpuSeconds(pid);
      if (seconds !== undefined) this.before[name] = seconds;
    }
  }

  stop(): CpuUsage {
    const wallMs = performance.now() - this.startedAt;
    const seconds: Record<string, number> = {};
    const cores: Record<string, number> = {};
    let total = 0;
    for (const [name, pid] of Object.entries(this.pids)) {
      const start = this.before[name];
      const end = cpuSeconds(pid);
      if (start === undefined || end === undefined) continue;
      seconds[name] = round(end - start, 2);
      cores[name] = round((end - start) / (wallMs / 1000), 2);
      total += cores[name];
    }
    const machineAfter = machineBusySeconds();
    const machine = this.machineBefore !== undefined && machineAfter !== undefined ? (machineAfter - this.machineBefore) / (wallMs / 1000) : undefined;
    return {
      wallMs: round(wallMs, 1),
      seconds,
      cores,
      totalCores: round(total, 2),
      machineCores: machine === undefined ? undefined : round(machine, 2),
      otherCores: machine === undefined ? undefined : round(Math.max(0, machine - total), 2),
    };
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
