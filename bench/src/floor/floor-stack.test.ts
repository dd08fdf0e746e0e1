import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive as alive } from '../process-stats.js';

const STACK = fileURLToPath(new URL('./floor-stack.js', import.meta.url));

test('the floor stack answers start_job and get_job as the contract shapes them, and its services go when the process that started them is killed', { timeout: 60_000 }, async () => {
  // A bench stand-in: starts the stack, runs one job through it, prints the pids, then waits to be killed.
  const script = `
    const { startFloorStack } = await import(${JSON.stringify(STACK)});
    const stack = await startFloorStack(2);
    const image = Buffer.from('iVBORw0KGgo=', 'base64').toString('base64');
    const started = await (await fetch(stack.proxyUrl + '/start_job', { method: 'POST', body: JSON.stringify({ image }) })).json();
    let job;
    for (let i = 0; i < 200; i++) {
      job = await (await fetch(stack.proxyUrl + '/get_job/' + started.job_id)).json();
      if (job.status === 'ok') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(JSON.stringify({ pids: stack.pids, started, job }));
    setInterval(() => {}, 1000);
  `;
  const bench = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  bench.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  while (!output.includes('\n')) await once(bench.stdout, 'data');
  const { pids, started, job } = JSON.parse(output) as { pids: Record<string, number>; started: { status: string; job_status: string }; job: { status: string; job_status: string; img_out_base64: string; img_in_base64: string } };
  assert.deepEqual([started.status, started.job_status], ['ok', 'QUEUED']);
  assert.deepEqual([job.status, job.job_status], ['ok', 'SUCCEEDED']);
  assert.equal(job.img_out_base64, job.img_in_base64, 'the echo model server sent the image back');
  bench.kill('SIGKILL');
  await once(bench, 'exit');
  const services = [pids.predict!, pids.batch!, pids.proxy!];
  try {
    for (let i = 0; i < 100 && services.some(alive); i++) await sleep(50);
    assert.deepEqual(services.filter(alive), [], 'no floor service outlives the bench');
  } finally {
    // Whatever is left (Redis has no such link; a service when the test fails) is stopped here.
    for (const pid of [...services, pids.redis!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
});
