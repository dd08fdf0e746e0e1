import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestArgs, proxyBaseUrl, UsageError, type RequestOptions } from './args.js';

function options(argv: string[]): RequestOptions {
  const parsed = parseRequestArgs(argv);
  assert.equal(parsed.help, false);
  return (parsed as { options: RequestOptions }).options;
}

test('defaults are request.py\'s, plus concurrency 4 and a 1 s poll interval', () => {
  assert.deepEqual(options([]), {
    host: 'localhost',
    port: 5000,
    inImagesDir: 'in_images',
    outImagesDir: 'out_images',
    nPollings: 100,
    pollIntervalMs: 1000,
    concurrency: 4,
    debug: false,
  });
});

test('every flag is read, in both --flag value and --flag=value forms', () => {
  const parsed = options([
    '--host', 'proxy.local', '--port=8080', '--in_images_dir', 'in', '--out_images_dir=out',
    '--n_pollings', '7', '--poll_interval', '0.25', '--concurrency', '16', '--debug',
  ]);
  assert.deepEqual(parsed, {
    host: 'proxy.local', port: 8080, inImagesDir: 'in', outImagesDir: 'out',
    nPollings: 7, pollIntervalMs: 250, concurrency: 16, debug: true,
  });
});

test('--help wins over everything else', () => {
  assert.deepEqual(parseRequestArgs(['--port', '1', '--help']), { help: true });
});

test('unknown flags, positionals and missing values are usage errors', () => {
  for (const argv of [['--bogus'], ['images'], ['--port'], ['--in-images-dir', 'x']]) {
    assert.throws(() => parseRequestArgs(argv), UsageError, argv.join(' '));
  }
});

test('bad numbers are usage errors that name the flag', () => {
  const cases: [string[], RegExp][] = [
    [['--port', '0'], /--port "0".*1 to 65535/],
    [['--port', '65536'], /--port/],
    [['--port', '50.5'], /--port/],
    [['--n_pollings', 'many'], /--n_pollings "many"/],
    [['--n_pollings=-1'], /--n_pollings "-1"/],
    [['--concurrency', '0'], /--concurrency "0"/],
    [['--poll_interval=-1'], /--poll_interval "-1"/],
    [['--poll_interval', '-1'], /--poll_interval/],
    [['--poll_interval', 'soon'], /--poll_interval/],
    [['--poll_interval', '1e3'], /--poll_interval/],
    [['--host', ''], /--host must not be empty/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseRequestArgs(argv), message);
});

test('a poll interval of 0 and fractions like .5 are accepted', () => {
  assert.equal(options(['--poll_interval', '0']).pollIntervalMs, 0);
  assert.equal(options(['--poll_interval', '.5']).pollIntervalMs, 500);
});

test('the base URL brackets IPv6 literals', () => {
  assert.equal(proxyBaseUrl({ host: 'localhost', port: 5000 }), 'http://localhost:5000');
  assert.equal(proxyBaseUrl({ host: '::1', port: 5000 }), 'http://[::1]:5000');
  assert.equal(proxyBaseUrl({ host: '[::1]', port: 80 }), 'http://[::1]:80');
});
