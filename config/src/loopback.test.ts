import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackAddress } from './loopback.js';

test('only addresses that are loopback by their digits count as loopback', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
    assert.equal(isLoopbackAddress(host), true, host);
  }
  for (const host of ['0.0.0.0', '::', '[::]', '', 'localhost', 'predict', '10.0.0.5', '128.0.0.1', '::2', '::ffff:10.0.0.1', '127.0.0.1.example.com', 'fe80::1']) {
    assert.equal(isLoopbackAddress(host), false, host);
  }
});
