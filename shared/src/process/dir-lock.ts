import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file in a data folder that says which run uses it. */
export const LOCK_FILE = 'cutout-redis.lock';

/** Another live run holds the folder. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(message);
    this.name = 'DataDirInUseError';
  }
}

interface Holder {
  /** The process that took the lock (the launcher). */
  pid: number;
  /** The redis-server it started there, once started: it may outlive a launcher killed with -9. */
  redisPid?: number;
  /** Linux's boot id: a lock from before a reboot names pids that mean nothing now. */
  boot: string;
  since: string;
}

export interface DirLock {
  readonly path: string;
  /** Records the redis-server started on the folder, so the lock holds while it lives. */
  setChild(pid: number): void;
  /** Removes the lock if it is still this one; safe to call twice. */
  release(): void;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Linux: a process that has exited but was not reaped yet (state Z) still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/s, ''));
  } catch {
    return false;
  }
}

/** True while a process with this id runs (EPERM: it does, under another user). */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    return undefined;
  }
}

/** A holder whose processes are all gone (or that is from another boot, or unreadable) is stale. */
function isLive(holder: Holder | undefined): holder is Holder {
  if (holder === undefined) return false;
  if (holder.boot !== '' && holder.boot !== bootId()) return false;
  return isRunning(holder.pid) || isRunning(holder.redisPid);
}

/** Writes `holder` to `path` whole, and only if nothing is there (link() fails on an existing name). */
function createWhole(path: string, holder: Holder): boolean {
  const temporary = `${path}.${randomUUID()}`;
  writeFileSync(temporary, JSON.stringify(holder));
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/**
 * Moves a stale lock out of the way. Renamed rather than deleted, then read again: if another
 * run took the folder between our read and the rename, what was moved is its fresh lock, which
 * goes back and counts as held.
 */
function clearStale(path: string, stale: Holder | undefined): boolean {
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch {
    return true; // already gone: try to take it again
  }
  const moved = readHolder(aside);
  if (moved !== undefined && (moved.pid !== stale?.pid || moved.since !== stale?.since)) {
    try {
      linkSync(aside, path);
    } catch {
      // Someone else holds the name by now; either way it is not ours to take.
    }
    unlinkSync(aside);
    return false;
  }
  unlinkSync(aside);
  return true;
}

function inUse(dir: string, path: string, holder: Holder | undefined, hint: string): DataDirInUseError {
  const who = holder ? `process ${holder.pid}${holder.redisPid ? ` and its redis-server ${holder.redisPid}` : ''}, since ${holder.since}` : 'another run';
  return new DataDirInUseError(
    dir,
    `the Redis data folder ${dir} is in use by another run (${who}): two redis-servers on one folder replay and append to one append-only file. ` +
      `Stop that run, or give this one a folder of its own with ${hint}. If no such run exists, delete ${path}`,
  );
}

/**
 * Takes `dir` for this process, or throws DataDirInUseError naming the folder, the holder and
 * `hint` (how to choose another folder). A lock whose processes have all exited (a crashed run)
 * does not block: it is cleared and taken.
 */
export function lockDataDir(dir: string, hint: string): DirLock {
  const path = join(dir, LOCK_FILE);
  const holder: Holder = { pid: process.pid, boot: bootId(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    if (createWhole(path, holder)) break;
    const found = readHolder(path);
    if (isLive(found) || attempt > 0) throw inUse(dir, path, found, hint);
    if (!clearStale(path, found)) throw inUse(dir, path, readHolder(path), hint);
  }
  let released = false;
  return {
    path,
    setChild(pid) {
      holder.redisPid = pid;
      // Replaced whole (rename), so a reader never sees half a file.
      const temporary = `${path}.${randomUUID()}`;
      writeFileSync(temporary, JSON.stringify(holder));
      renameSync(temporary, path);
    },
    release() {
      if (released) return;
      released = true;
      const current = readHolder(path);
      if (current?.pid === holder.pid && current.since === holder.since) unlinkSync(path);
    },
  };
}
