/** `node batch/dist/main.js` started on its own serves its metrics and /health on loopback only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

test('batch started alone serves its metrics on 127.0.0.1', { timeout: 60_000 }, async () => {
  // No Redis is needed to listen: batch answers /health 503 while it connects.
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', BATCH_METRICS_PORT: '0', REDIS_URL: 'redis://127.0.0.1:1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  let out = '';
  const listening = await new Promise<{ host?: string } | undefined>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string; host?: string }).find((l) => l.message === 'metrics listening');
      if (line) resolve(line);
    });
    child.once('close', () => resolve(undefined));
  });
  child.kill('SIGTERM');
  await closed;
  assert.equal(listening?.host, '127.0.0.1', out);
});
