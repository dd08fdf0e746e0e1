import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barePlan, endToEndPlan, parseArgs, UsageError } from './plan.js';

test('--only keeps the named sections of the plan and nothing else', () => {
  const options = parseArgs(['--only', 'serving,huge']);
  assert.deepEqual([...options.only!].sort(), ['huge', 'serving']);
  const sections = new Set(endToEndPlan(options).map((s) => s.section));
  assert.deepEqual([...sections].sort(), ['huge', 'serving']);
  assert.equal(barePlan(options, 4).plans.length, 0);
  // The serving section still measures the round-trip floors.
  assert.ok(endToEndPlan(options).some((s) => s.floors));
});

test('without --only every part runs', () => {
  const options = parseArgs([]);
  assert.equal(options.only, undefined);
  const sections = new Set(endToEndPlan(options).map((s) => s.section));
  assert.deepEqual([...sections].sort(), ['huge', 'photos', 'serving']);
  assert.ok(barePlan(options, 4).plans.length > 0);
});

test('--only refuses a part it does not know, and an empty list', () => {
  assert.throws(() => parseArgs(['--only', 'serving,nope']), UsageError);
  assert.throws(() => parseArgs(['--only', ',']), UsageError);
  assert.throws(() => parseArgs(['--only']), UsageError);
});
