import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/stack.js';

/** Runs the compiled bench and collects its output; never rejects on a non-zero exit. */
function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bench', 'dist', 'main.js'), ...args], {
      cwd: REPO_ROOT,
      // The stack's speed, with the cheapest built-in model, as before cutout-graphcut became the default.
      env: { ...process.env, REDIS_URL: undefined, MODEL: 'cutout-border' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

interface Report {
  mode: string;
  machine: { cores: number; node: string; cpuModel: string };
  bare: { runs: { set: string; concurrency: number; images: number; imagesPerSecond: number; latency: { p50: number } }[] };
  endToEnd: { scenario: { id: string }; load: { jobs: number; failures: number; jobsPerSecond: number }; peakMemoryMb: Record<string, number>; cpu: { cores: Record<string, number> } }[];
  errors: unknown[];
  targets: { name: string; verdict: string; measured: string }[];
  comparison: Record<string, unknown>;
}

// Checks that the bench runs and reports; the figures themselves depend on the machine and are not asserted.
test('npm run bench --quick measures bare and end to end and writes a JSON and a Markdown report', { timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'cutout-bench-'));
  try {
    const { code, output } = await runBench(['--quick', '--out', out]);
    assert.equal(code, 0, `the bench exited ${code}:\n${output.slice(-3000)}`);
    assert.match(output, /\| target +\| goal/, 'stdout shows the targets table');

    const files = readdirSync(out);
    const jsonName = files.find((f) => f.endsWith('.json'));
    const mdName = files.find((f) => f.endsWith('.md'));
    assert.ok(jsonName && mdName, `a .json and a .md report in ${out}: ${files.join(', ')}`);
    assert.match(jsonName, /^\d{4}-\d{2}-\d{2}/, 'the report is named after the date');

    const report = JSON.parse(readFileSync(join(out, jsonName), 'utf8')) as Report;
    assert.equal(report.mode, 'quick');
    assert.ok(report.machine.cores >= 1 && report.machine.node.startsWith('v'), 'machine facts');
    assert.ok(report.bare.runs.length >= 1, 'at least one bare run');
    for (const run of report.bare.runs) assert.ok(run.images > 0 && run.imagesPerSecond > 0 && run.latency.p50 > 0, `bare ${run.set} C=${run.concurrency} measured`);
    assert.deepEqual(report.errors, []);
    assert.ok(report.endToEnd.length >= 2, 'several end-to-end configurations');
    for (const result of report.endToEnd) {
      assert.ok(result.load.jobs > 0 && result.load.jobsPerSecond > 0, `${result.scenario.id}: jobs finished`);
      assert.equal(result.load.failures, 0, `${result.scenario.id}: no job failed`);
      for (const service of ['predict', 'batch', 'proxy', 'redis']) {
        assert.ok((result.peakMemoryMb[service] ?? 0) > 0, `${result.scenario.id}: peak memory of ${service}`);
      }
      assert.ok((result.cpu.cores.predict ?? -1) >= 0, `${result.scenario.id}: CPU of predict`);
    }
    assert.ok(report.endToEnd.some((r) => r.scenario.id.includes('-floor-')), 'the floor stack ran under the serving load');
    assert.equal(report.targets.length, 4, 'the four targets of the issue');
    for (const t of report.targets) assert.ok(['PASS', 'MISS', 'NOT RUN'].includes(t.verdict), `${t.name}: ${t.verdict}`);
    assert.ok('throughputRatio' in report.comparison && 'addedLatencyAtC1' in report.comparison, 'end to end against bare');

    const md = readFileSync(join(out, mdName), 'utf8');
    assert.match(md, /\| tiny FLOOR STACK C=16 poll 10 ms/, 'the serving table has the floor stack\'s row');
    for (const section of ['## Targets', '## Bare', '## End to end', '## Where the time goes', '## Batching on and off', '## CPU share', '## Peak memory', '## Single-request floor']) {
      assert.ok(md.includes(section), `the Markdown report has "${section}"`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
