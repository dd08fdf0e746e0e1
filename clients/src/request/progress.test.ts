import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReporter, renderBar, type ProgressState } from './progress.js';

const state = (over: Partial<ProgressState>): ProgressState => ({ phase: 'poll', total: 4, submitted: 4, succeeded: 0, failed: 0, round: 1, rounds: 100, ...over });

test('the bar fills with finished jobs and fits the terminal width', () => {
  assert.equal(renderBar(state({ succeeded: 1, failed: 1 }), 200), `waiting    [${'#'.repeat(15)}${'-'.repeat(15)}] 2/4  ok 1  failed 1  round 1/100`);
  assert.match(renderBar(state({ phase: 'submit', submitted: 4 }), 200), /^submitting \[#{30}\] 4\/4$/);
  assert.equal(renderBar(state({}), 20).length, 19);
});

test('on a terminal, result lines clear the bar and it is redrawn under them', () => {
  const out: string[] = [];
  const err: string[] = [];
  const reporter = createReporter({ write: (t: string) => out.push(t) }, { write: (t: string) => err.push(t), isTTY: true, columns: 120 });
  reporter.update(state({ succeeded: 1 }));
  reporter.line('saved out/a.png');
  reporter.end();
  assert.deepEqual(out, ['saved out/a.png\n']);
  const bar = renderBar(state({ succeeded: 1 }), 120);
  assert.deepEqual(err, [bar, '\r\x1b[K', bar, '\r\x1b[K']);
});

test('without a terminal, progress lines are printed only when a count moves', () => {
  const err: string[] = [];
  const reporter = createReporter({ write: () => true }, { write: (t: string) => err.push(t) });
  reporter.update(state({ round: 1 }));
  reporter.update(state({ round: 2 }));
  reporter.update(state({ round: 3, succeeded: 1 }));
  reporter.warn('failed x.png: E m');
  assert.deepEqual(err, [
    'progress: waiting 0/4 done (ok 0, failed 0)\n',
    'progress: waiting 1/4 done (ok 1, failed 0)\n',
    'failed x.png: E m\n',
  ]);
});
