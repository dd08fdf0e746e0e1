import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./run-service.fixture.js', import.meta.url));

interface Line {
  message: string;
  part?: string;
  [field: string]: unknown;
}

interface Run {
  lines: Line[];
  code: Promise<number | null>;
  /** Resolves once a line with this message (and part, when given) is logged. */
  waitFor(message: string, part?: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [FIXTURE], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Line[] = [];
  const waiters: Array<{ message: string; part: string | undefined; resolve: () => void }> = [];
  let rest = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const text of parts.filter((t) => t.trim())) {
      const line = JSON.parse(text) as Line;
      lines.push(line);
      for (const w of waiters) if (w.message === line.message && (w.part === undefined || w.part === line.part)) w.resolve();
    }
  });
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return {
    lines,
    code,
    waitFor: (message, part) =>
      new Promise((resolve, reject) => {
        if (lines.some((l) => l.message === message && (part === undefined || l.part === part))) return resolve();
        waiters.push({ message, part, resolve });
        void code.then((c) => reject(new Error(`exited (${c}) before "${message}": ${JSON.stringify(lines)}`)));
      }),
    kill: (signal) => child.kill(signal),
  };
}

/** The parts in the order their close began. */
const closeOrder = (lines: Line[]) => lines.filter((l) => l.message === 'closing').map((l) => l.part);

test('SIGTERM closes the parts in reverse order of adding them, then exits 0', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,pool,http' });
  await service.waitFor('started');
  service.kill('SIGTERM');
  assert.equal(await service.code, 0);
  assert.deepEqual(closeOrder(service.lines), ['http', 'pool', 'redis']);
  assert.ok(service.lines.some((l) => l.message === 'shutting down' && l.signal === 'SIGTERM'));
  assert.ok(service.lines.some((l) => l.message === 'stopped' && l.exit_code === 0));
});

test('SIGINT stops it the same way', async () => {
  const service = run({ FIXTURE_PARTS: 'a,b' });
  await service.waitFor('started');
  service.kill('SIGINT');
  assert.equal(await service.code, 0);
  assert.deepEqual(closeOrder(service.lines), ['b', 'a']);
});

test('a step that hangs past its deadline is forced and cut off; the later steps still run; exit 1', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,stuck:hang,http' });
  await service.waitFor('started');
  service.kill('SIGTERM');
  assert.equal(await service.code, 1);
  assert.deepEqual(closeOrder(service.lines), ['http', 'stuck', 'redis']);
  assert.ok(service.lines.some((l) => l.message === 'forced' && l.part === 'stuck'));
  assert.ok(!service.lines.some((l) => l.message === 'closed' && l.part === 'stuck'));
  assert.ok(service.lines.some((l) => l.message === 'closed' && l.part === 'redis'), 'the step after the hung one ran');
  const failed = service.lines.find((l) => l.message === 'shutdown step failed');
  assert.equal(failed?.step, 'stuck');
  assert.match(String(failed?.error), /did not finish within 300 ms; forced/);
});

test('a step that fails is logged, the others still run, and the exit code is 1', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,broken:fail,http' });
  await service.waitFor('started');
  service.kill('SIGTERM');
  assert.equal(await service.code, 1);
  assert.deepEqual(closeOrder(service.lines), ['http', 'broken', 'redis']);
  assert.ok(service.lines.some((l) => l.message === 'shutdown step failed' && l.step === 'broken' && l.error === 'broken would not close'));
  assert.ok(service.lines.some((l) => l.message === 'stopped' && l.exit_code === 1));
});

test('an unhandled rejection is logged, every part is closed, and the exit is non-zero', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,http', FIXTURE_AFTER_START: 'reject' });
  assert.equal(await service.code, 1);
  assert.ok(service.lines.some((l) => l.message === 'fixture failed' && l.error === 'nobody caught this'));
  assert.deepEqual(closeOrder(service.lines), ['http', 'redis']);
  assert.ok(service.lines.some((l) => l.message === 'closed' && l.part === 'redis'));
});

test('once stray errors are contained, an uncaught exception and an unhandled rejection go to the handler and the service goes on', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,http', FIXTURE_AFTER_START: 'contain' });
  await service.waitFor('still serving');
  const contained = service.lines.filter((l) => l.message === 'contained');
  assert.deepEqual(
    contained.map((l) => [l.origin, l.error]),
    [
      ['uncaughtException', 'thrown in a timer'],
      ['unhandledRejection', 'rejected in a timer'],
    ],
  );
  assert.ok(!service.lines.some((l) => l.message === 'closing'), 'nothing was closed');
  service.kill('SIGTERM');
  assert.equal(await service.code, 0, 'a contained error does not change the exit code');
});

test('a start that throws closes what it had opened and exits 1', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,http', FIXTURE_AFTER_START: 'throw' });
  assert.equal(await service.code, 1);
  assert.ok(service.lines.some((l) => l.message === 'fixture failed to start' && l.error === 'cannot start: no such thing'));
  assert.deepEqual(closeOrder(service.lines), ['http', 'redis']);
});

test('fail(error, 2) closes everything and exits with that code', async () => {
  const service = run({ FIXTURE_PARTS: 'model', FIXTURE_AFTER_START: 'fail2' });
  assert.equal(await service.code, 2);
  assert.deepEqual(closeOrder(service.lines), ['model']);
  assert.ok(service.lines.some((l) => l.message === 'fixture failed' && l.error === 'bad model'));
});

test('a second signal while a step is still closing exits 1 at once', async () => {
  const service = run({ FIXTURE_PARTS: 'redis,drain:slow' });
  await service.waitFor('started');
  service.kill('SIGTERM');
  await service.waitFor('closing', 'drain');
  service.kill('SIGTERM');
  assert.equal(await service.code, 1);
  assert.ok(service.lines.some((l) => l.message === 'second signal: exiting now'));
  assert.ok(!service.lines.some((l) => l.message === 'closing' && l.part === 'redis'), 'it did not wait for the rest');
});
