/**
 * Two `npm start`s in one checkout (node dev/dist/main.js, as `npm start` runs it after its
 * build) on one Redis data folder: the second refuses, naming the folder and STACK_REDIS_DIR,
 * and the first keeps running; once the first has stopped, the folder can be used again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Launch {
  child: ChildProcess;
  /** Resolves true once the stack printed its ready line, false if it exited first. */
  ready: Promise<boolean>;
  exited: Promise<{ code: number | null; stderr: string; stdout: string }>;
}

function launch(redisDir: string): Launch {
  // Every port picked freely, so only the data folder is shared; no REDIS_URL: the private redis-server.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', STACK_REDIS_DIR: redisDir, PROXY_PORT: '0', PREDICT_PORT: '0', BATCH_METRICS_PORT: '0', MODEL: 'passthrough', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '1000' };
  const child = spawn(process.execPath, [MAIN, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => child.once("close", (code, signal) => resolve({ code: code ?? (signal === null ? null : -1), stderr: stderr + (signal ? `killed by ${signal}` : ""), stdout })));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (/"message":"ready"/.test(stdout)) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  return { child, ready, exited };
}

async function stop(run: Launch): Promise<{ code: number | null; stderr: string }> {
  run.child.kill('SIGTERM');
  return run.exited;
}

test('a second npm start on the same Redis data folder refuses, naming the folder and STACK_REDIS_DIR; the first is unharmed', { timeout: 180_000 }, async (t) => {
  const redisDir = mkdtempSync(join(tmpdir(), 'cutout-two-starts-'));
  const runs: Launch[] = [];
  t.after(async () => {
    await Promise.all(runs.filter((r) => r.child.exitCode === null).map(stop));
    rmSync(redisDir, { recursive: true, force: true });
  });
  const first = launch(redisDir);
  runs.push(first);
  assert.equal(await first.ready, true, `the first stack started: ${(await Promise.race([first.exited, Promise.resolve(undefined)]))?.stderr ?? ''}`);

  const second = launch(redisDir);
  runs.push(second);
  assert.equal(await second.ready, false, 'the second stack did not start');
  const refused = await second.exited;
  assert.equal(refused.code, 1, refused.stderr + refused.stdout);
  assert.match(refused.stderr, new RegExp(`Redis data folder ${redisDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use`));
  assert.match(refused.stderr, /STACK_REDIS_DIR=/);
  t.diagnostic(`second start: ${refused.stderr.trim()}`);
  assert.equal(first.child.exitCode, null, 'the first stack is still running');

  const stopped = await stop(first);
  assert.equal(stopped.code, 0, stopped.stderr);
  const third = launch(redisDir);
  runs.push(third);
  assert.equal(await third.ready, true, 'after the first stopped, the folder is free again');
  const stoppedThird = await stop(third);
  assert.equal(stoppedThird.code, 0, stoppedThird.stderr + (await third.exited).stdout.slice(-3000));
});
