import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { findReferencePython, REFERENCE_INSTALL } from './celery-stack.js';
import { isAlive as alive } from '../process-stats.js';

const STACK = fileURLToPath(new URL('./celery-stack.js', import.meta.url));
const python = findReferencePython();

test('findReferencePython names no interpreter that lacks the modules', () => {
  assert.equal(findReferencePython(['/nonexistent/python3']), null);
  if (python) assert.equal(findReferencePython(['/nonexistent/python3', python]), python);
});

test(
  'the Celery reference turns seed 003 calls into RGBA PNGs of the input, and its processes go when the bench that started them is killed',
  { timeout: 120_000, skip: python ? false : `no python3 with the reference's modules (${REFERENCE_INSTALL})` },
  async () => {
    // A bench stand-in: starts the reference, runs one job through it, prints what it saw, then waits to be killed.
    const script = `
      const { startCeleryStack } = await import(${JSON.stringify(STACK)});
      const stack = await startCeleryStack(2);
      // A 3×2 grey PNG without alpha (colour type 0).
      const image = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAEElEQVR4nGNsYGBgYmBgAAADmACEBmiz0AAAAABJRU5ErkJggg==';
      const started = await (await fetch(stack.proxyUrl + '/start_job', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image }) })).json();
      let job;
      for (let i = 0; i < 500; i++) {
        job = await (await fetch(stack.proxyUrl + '/get_job/' + started.job_id)).json();
        if (job.job_status !== 'QUEUED' && job.job_status !== 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log(JSON.stringify({ pids: { ...stack.pids, pool: stack.poolPids() }, job }));
      setInterval(() => {}, 1000);
    `;
    const bench = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    bench.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    while (!output.includes('\n')) await once(bench.stdout, 'data');
    const { pids, job } = JSON.parse(output) as { pids: { proxy: number; batch: number; redis: number; pool: number[] }; job: { job_status: string; status: string; img_out_base64: string } };
    const python = [pids.proxy, pids.batch, ...pids.pool];
    try {
      assert.equal(pids.pool.length, 2, 'a prefork worker with the two pool processes asked for');
      assert.deepEqual([job.job_status, job.status], ['SUCCEEDED', 'ok']);
      const png = Buffer.from(job.img_out_base64, 'base64');
      assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
      // IHDR: width, height, bit depth 8, colour type 6 (RGBA).
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]], [3, 2, 8, 6]);
      bench.kill('SIGKILL');
      await once(bench, 'exit');
      for (let i = 0; i < 100 && python.some(alive); i++) await sleep(50);
      assert.deepEqual(python.filter(alive), [], 'no reference process outlives the bench');
    } finally {
      if (bench.exitCode === null) bench.kill('SIGKILL');
      for (const pid of [...python, pids.redis]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  },
);
