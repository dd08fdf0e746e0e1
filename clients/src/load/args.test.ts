import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoadArgs, UsageError } from './args.js';

const parse = (...argv: string[]) => {
  const parsed = parseLoadArgs(argv, false);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.options;
};

test('seed 002 flags: -N -T -R -V with defaults like run_multiple_tests.py', () => {
  const o = parse('-N', '10', '-T', '1', '-R', '5', '-V');
  assert.equal(o.requests, 10);
  assert.equal(o.intervalMs, 1000);
  assert.equal(o.rounds, 5);
  assert.equal(o.verbose, true);
  assert.equal(o.api, 'seed003');
  const d = parse();
  assert.deepEqual([d.requests, d.intervalMs, d.rounds, d.host, d.port], [1, undefined, 1, 'localhost', 5000]);
  assert.match(d.inImagesDir, /test\/fixtures\/images\/$/, 'the sample photos when there is no ./in_images');
});

test('--group makes the requests /v1 groups; naming another API with it is a usage error', () => {
  assert.equal(parse('--group', '40').api, 'v1');
  assert.equal(parse('--group', '40').group, 40);
  assert.throws(() => parse('--group', '4', '--api', 'task'), UsageError);
});

test('bad values and unknown flags are usage errors that name the flag', () => {
  assert.throws(() => parse('-N', '0'), /-N "0"/);
  assert.throws(() => parse('-T', 'soon'), /-T "soon"/);
  assert.throws(() => parse('--api', 'grpc'), /seed003, v1, sync, task/);
  assert.throws(() => parse('--nope'), UsageError);
});
