import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readApiKeys } from './api-keys.js';

const folders: string[] = [];
after(() => folders.forEach((folder) => rmSync(folder, { recursive: true, force: true })));

function fileWith(text: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'cutout-keys-'));
  folders.push(folder);
  const path = join(folder, 'keys');
  writeFileSync(path, text);
  return path;
}

test('API_KEYS_FILE: a line may carry max_queued, priorities and callback_secret after the key (CONTRACT §13)', () => {
  const problems: string[] = [];
  const keys = readApiKeys(
    undefined,
    fileWith(['# tenants', 'alpha alpha-key-0123456789', 'beta beta-key-0123456789 max_queued=5 priorities=low,normal callback_secret=beta-secret-0123456789', ''].join('\n')),
    problems,
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(keys[0], { name: 'alpha', key: 'alpha-key-0123456789' });
  // Priorities come back in the service order, whatever order the line gave.
  assert.deepEqual(keys[1], { name: 'beta', key: 'beta-key-0123456789', maxQueued: 5, priorities: ['normal', 'low'], callbackSecret: 'beta-secret-0123456789' });
});

test('API_KEYS_FILE: every bad setting is reported by line, and a secret is never shown', () => {
  const problems: string[] = [];
  const keys = readApiKeys(
    undefined,
    fileWith(['a a-key-0123456789abc max_queued=lots', 'b b-key-0123456789abc priorities=urgent', 'c c-key-0123456789abc callback_secret=short', 'd d-key-0123456789abc colour=blue', 'e e-key-0123456789abc hunter2-typo-secret'].join('\n')),
    problems,
  );
  assert.deepEqual(keys, []);
  assert.equal(problems.length, 5);
  assert.match(problems[0]!, /line 1: max_queued="lots" must be a whole number/);
  assert.match(problems[1]!, /line 2: priorities="urgent" must list some of high, normal, low/);
  assert.match(problems[2]!, /line 3: callback_secret must be at least 16 characters \(it is not shown\)/);
  assert.match(problems[3]!, /line 4: unknown setting "colour"/);
  assert.match(problems[4]!, /line 5: unknown word after the key \(not shown\)/);
  assert.ok(!/short|hunter2/.test(problems.join('\n')), 'no secret is echoed');
});
