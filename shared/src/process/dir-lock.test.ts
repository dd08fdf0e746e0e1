/**
 * A redis-server data folder is used by one run at a time: a second start on it is refused with
 * a message naming the folder and how to choose another, while the first (or the redis-server it
 * left behind) lives; a lock whose processes are gone does not block. Real redis-servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataDirInUseError, isRunning, LOCK_FILE } from './dir-lock.js';
import { startRedisServer } from './redis-server.js';

const HINT = 'STACK_REDIS_DIR=<another folder>';
const REDIS_SERVER_JS = fileURLToPath(new URL('./redis-server.js', import.meta.url));

function folder(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'cutout-dir-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const refusedFor = (dir: string) => (error: unknown) =>
  error instanceof DataDirInUseError && error.message.includes(dir) && error.message.includes(HINT);

test('a second redis-server on a folder in use is refused naming the folder and the hint; once the first stops, the folder is free', { timeout: 30_000 }, async (t) => {
  const dir = folder(t);
  const first = await startRedisServer({ dir, dirHint: HINT, appendOnly: true });
  t.after(() => first.stop());
  await assert.rejects(startRedisServer({ dir, dirHint: HINT, appendOnly: true }), refusedFor(dir));
  assert.ok(first.process.exitCode === null, 'the first server is untouched');
  await first.stop();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'stop() removes the lock');
  const again = await startRedisServer({ dir, dirHint: HINT, appendOnly: true });
  await again.stop();
});

test('kill() (kill -9 of the server) frees the folder for a start again on the same data', { timeout: 30_000 }, async (t) => {
  const dir = folder(t);
  const first = await startRedisServer({ dir, dirHint: HINT });
  await first.kill();
  const again = await startRedisServer({ dir, dirHint: HINT });
  await again.stop();
});

test('a lock left by a run whose processes have exited does not block the next start', { timeout: 30_000 }, async (t) => {
  const dir = folder(t);
  // A pid that existed and is gone now.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout);
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid, redisPid: deadPid, boot: '', since: '2026-01-01T00:00:00.000Z' }));
  const server = await startRedisServer({ dir, dirHint: HINT });
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid, 'the stale lock was taken over');
  await server.stop();
});

test('a redis-server outliving its launcher (killed with -9) still holds the folder, and the message names it', { timeout: 30_000 }, async (t) => {
  const dir = folder(t);
  // A launcher in its own process: starts the server on the folder, says its pid, then waits to be killed.
  const launcher = spawn(
    process.execPath,
    ['--input-type=module', '-e', `const { startRedisServer } = await import(${JSON.stringify(REDIS_SERVER_JS)}); const s = await startRedisServer({ dir: ${JSON.stringify(dir)} }); process.stdout.write(String(s.process.pid) + '\\n'); setInterval(() => {}, 1000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const redisPid = await new Promise<number>((resolve, reject) => {
    launcher.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    launcher.once('exit', () => reject(new Error('the launcher exited before starting redis-server')));
  });
  // The server is in its own process group; this test started it, so it stops it.
  t.after(() => {
    try {
      process.kill(redisPid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  launcher.kill('SIGKILL');
  await new Promise((resolve) => launcher.once('exit', resolve));
  await assert.rejects(startRedisServer({ dir, dirHint: HINT }), (error: unknown) => refusedFor(dir)(error) && (error as Error).message.includes(`redis-server ${redisPid}`));
  process.kill(redisPid, 'SIGKILL');
  while (isRunning(redisPid)) await new Promise((r) => setTimeout(r, 20));
  const next = await startRedisServer({ dir, dirHint: HINT });
  await next.stop();
});
