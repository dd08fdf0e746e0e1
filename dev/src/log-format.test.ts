import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compactJson, formatLogLine, LineSplitter } from './log-format.js';

const winstonLine = JSON.stringify({
  level: 'info',
  message: 'request',
  service: 'proxy',
  request_id: 'r-1',
  method: 'GET',
  path: '/health',
  status: 200,
  note: 'two words',
  timestamp: '2025-01-02T03:04:05.678Z',
});

test('pretty mode: padded name, then time, level, message and key=value for the rest', () => {
  const line = formatLogLine('proxy', winstonLine, 'stdout', { pretty: true, color: false });
  assert.match(line, /^proxy   \| \d\d:\d\d:\d\d\.678 info  request request_id=r-1 method=GET path=\/health status=200 note="two words"$/);
  assert.ok(!line.includes('service='), 'the service is in the prefix already');
});

test('pretty mode colours only when asked', () => {
  assert.ok(!formatLogLine('batch', 'plain text', 'stderr', { pretty: true, color: false }).includes('\x1b['));
  const coloured = formatLogLine('batch', winstonLine, 'stdout', { pretty: true, color: true });
  assert.match(coloured, /^\x1b\[36mbatch  \x1b\[0m \|/);
  assert.match(coloured, /\x1b\[32minfo \x1b\[0m/);
});

test('a stack trace is printed on its own prefixed lines', () => {
  const text = compactJson({ level: 'error', message: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)', timestamp: '2025-01-01T00:00:00Z' }, false);
  assert.match(text, /error boom\nError: boom\n {4}at x/);
  const lines = formatLogLine('predict', JSON.stringify({ level: 'error', message: 'boom', stack: 'Error: boom\n    at x' }), 'stdout', { pretty: true, color: false }).split('\n');
  assert.equal(lines.length, 3);
  for (const l of lines) assert.match(l, /^predict \| /);
});

test('JSON mode keeps every output line JSON', () => {
  assert.equal(formatLogLine('proxy', winstonLine, 'stdout', { pretty: false, color: false }), winstonLine);
  assert.deepEqual(JSON.parse(formatLogLine('batch', '{"level":"warn","message":"m"}', 'stdout', { pretty: false, color: false })), {
    service: 'batch',
    level: 'warn',
    message: 'm',
  });
  const wrapped = JSON.parse(formatLogLine('predict', 'node: warning', 'stderr', { pretty: false, color: false }));
  assert.equal(wrapped.service, 'predict');
  assert.equal(wrapped.level, 'error');
  assert.equal(wrapped.message, 'node: warning');
});

test('the splitter joins lines across chunks and flushes a final partial line', () => {
  const lines: string[] = [];
  const splitter = new LineSplitter((l) => lines.push(l));
  splitter.push('one\r\ntw');
  splitter.push('o\nthr');
  assert.deepEqual(lines, ['one', 'two']);
  splitter.flush();
  assert.deepEqual(lines, ['one', 'two', 'thr']);
});
