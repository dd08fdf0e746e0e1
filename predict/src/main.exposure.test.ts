/**
 * `node predict/dist/main.js` as an operator starts it (npm run start:predict): on its own it
 * listens on loopback, and it refuses to start on any other address without PREDICT_TOKEN, with
 * a message that names both variables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PREDICT_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `main` until it exits, or until `stopWhen` sees its output (then SIGTERM). */
function run(main: string, env: Record<string, string>, stopWhen?: (stdout: string) => boolean): Promise<Run> {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stopWhen?.(stdout)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const listeningLine = (stdout: string, message: string) =>
  stdout
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { message: string; host?: string })
    .find((l) => l.message === message);

test('predict on 0.0.0.0, ::, or a host name without PREDICT_TOKEN exits 2 naming PREDICT_HOST and PREDICT_TOKEN', { timeout: 60_000 }, async () => {
  for (const host of ['0.0.0.0', '::', 'localhost']) {
    // Stopped should it listen after all, so a predict without the check fails here instead of running on.
    const started = await run(PREDICT_MAIN, { PREDICT_HOST: host, PREDICT_PORT: '0', MODEL: 'passthrough', LOG_LEVEL: 'info' }, (out) => listeningLine(out, 'listening') !== undefined);
    assert.equal(started.code, 2, `${host}: ${started.stderr}${started.stdout}`);
    assert.match(started.stderr, /cutout predict: invalid settings/);
    assert.match(started.stderr, new RegExp(`PREDICT_HOST=${JSON.stringify(host)}.*PREDICT_TOKEN`));
    assert.equal(listeningLine(started.stdout, 'listening'), undefined, `${host}: it never listened`);
  }
});

test('predict started alone listens on 127.0.0.1; with PREDICT_TOKEN it may listen on every interface', { timeout: 60_000 }, async () => {
  const alone = await run(PREDICT_MAIN, { PREDICT_PORT: '0', MODEL: 'passthrough', LOG_LEVEL: 'info' }, (out) => listeningLine(out, 'listening') !== undefined);
  assert.equal(listeningLine(alone.stdout, 'listening')?.host, '127.0.0.1', alone.stdout + alone.stderr);
  const open = await run(PREDICT_MAIN, { PREDICT_HOST: '0.0.0.0', PREDICT_TOKEN: 'a-token-of-16-chars-or-more', PREDICT_PORT: '0', MODEL: 'passthrough', LOG_LEVEL: 'info' }, (out) => listeningLine(out, 'listening') !== undefined);
  assert.equal(listeningLine(open.stdout, 'listening')?.host, '0.0.0.0', open.stdout + open.stderr);
});
