import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelsArgs, UsageError } from './args.js';

test('list, verify and pull parse with their options', () => {
  assert.deepEqual(parseModelsArgs(['list']), { command: 'list' });
  assert.deepEqual(parseModelsArgs(['verify', 'u2net', '--dir', '/m']), { command: 'verify', dir: '/m', presets: ['u2net'] });
  assert.deepEqual(parseModelsArgs(['pull', 'u2net', '--url', 'http://127.0.0.1:9/u.onnx', '--sha256', 'A'.repeat(64)]), {
    command: 'pull',
    preset: 'u2net',
    url: 'http://127.0.0.1:9/u.onnx',
    sha256: 'a'.repeat(64),
    fromNpm: false,
  });
  assert.deepEqual(parseModelsArgs(['pull', 'isnet-general-use', '--from-npm', '--accept-license', 'agpl-3.0']), {
    command: 'pull',
    preset: 'isnet-general-use',
    fromNpm: true,
    acceptLicense: 'agpl-3.0',
  });
  assert.deepEqual(parseModelsArgs([]), { command: 'help' });
  assert.deepEqual(parseModelsArgs(['pull', '--help']), { command: 'help' });
});

test('bad command lines are UsageErrors that say what is wrong', () => {
  const bad: [string[], RegExp][] = [
    [['fetch'], /unknown command "fetch"/],
    [['pull'], /one preset name/],
    [['pull', 'u2net', '--sha256', 'abc'], /64 hexadecimal digits/],
    [['pull', 'u2net', '--url', 'ftp://x'], /http:\/\/ or https:\/\//],
    [['pull', 'u2net', '--url'], /--url needs a value/],
    [['list', '--url', 'http://x'], /list takes no --url/],
    [['pull', 'isnet-general-use', '--from-npm', '--url', 'http://x'], /cannot be combined/],
    [['verify', '--force'], /unknown option --force/],
  ];
  for (const [argv, message] of bad) assert.throws(() => parseModelsArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message), argv.join(' '));
});
