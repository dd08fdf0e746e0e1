import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from './logger.js';

/** Fields whose reading is counted: the formats read every field of a line they build. */
function probe(): { fields: Record<string, unknown>; reads: () => number } {
  let reads = 0;
  const fields = Object.defineProperty({}, 'probe', {
    enumerable: true,
    get: () => {
      reads++;
      return 'x';
    },
  }) as Record<string, unknown>;
  return { fields, reads: () => reads };
}

test('a call below the level builds nothing (formats skipped); one at the level still does', () => {
  const logger = createLogger('test', 'warn');
  const below = probe();
  logger.info('dropped', below.fields);
  logger.debug('dropped', below.fields);
  // Before: winston ran the redaction, timestamp and JSON on these, then dropped them.
  assert.equal(below.reads(), 0);
  logger.level = 'error';
  const error = probe();
  logger.warn('dropped now', error.fields);
  assert.equal(error.reads(), 0, 'the level is read at each call');
  assert.equal(logger.isLevelEnabled('error'), true);
  assert.equal(logger.isLevelEnabled('info'), false);
});
