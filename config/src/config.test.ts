import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError, DEFAULTS } from './index.js';

test('defaults apply when nothing is set', () => {
  const config = loadConfig({});
  assert.equal(config.proxyPort, 5000);
  assert.equal(config.predictPort, 5001);
  assert.deepEqual(config.predictUrls, ['http://127.0.0.1:5001']);
  assert.equal(config.jobTtlSeconds, 86_400);
  assert.equal(config.maxImageBytes, 20 * 1024 * 1024);
  assert.equal(config.model, DEFAULTS.MODEL);
  assert.equal(config.redisUrlSet, false);
  assert.equal(config.batchMetricsPort, 5002);
  assert.equal(config.batchMetricsHost, '0.0.0.0');
  assert.ok(Object.isFrozen(config));
});

test('BATCH_METRICS_PORT: 0 (a free port) is allowed, a port out of range is refused by name', () => {
  assert.equal(loadConfig({ BATCH_METRICS_PORT: '0' }).batchMetricsPort, 0);
  assert.throws(() => loadConfig({ BATCH_METRICS_PORT: '70000' }), (error: unknown) => error instanceof ConfigError && /BATCH_METRICS_PORT/.test(error.problems.join('\n')));
});

test('values are read and a list of predict servers is split', () => {
  const config = loadConfig({
    REDIS_URL: 'redis://example:6390',
    PREDICT_URL: 'http://a:1/, http://b:2',
    BATCH_CONCURRENCY: '8',
    LOG_LEVEL: 'DEBUG',
    REDIS_KEY_PREFIX: 'test:',
  });
  assert.equal(config.redisUrl, 'redis://example:6390');
  assert.equal(config.redisUrlSet, true);
  assert.deepEqual(config.predictUrls, ['http://a:1', 'http://b:2']);
  assert.equal(config.batchConcurrency, 8);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.redisKeyPrefix, 'test:');
});

test('every bad variable is reported together, by name', () => {
  assert.throws(
    () => loadConfig({ PROXY_PORT: 'http', BATCH_CONCURRENCY: '0', REDIS_URL: 'localhost:6379', LOG_LEVEL: 'loud', JOB_TTL_SECONDS: '1.5' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const text = error.problems.join('\n');
      for (const name of ['PROXY_PORT', 'BATCH_CONCURRENCY', 'REDIS_URL', 'LOG_LEVEL', 'JOB_TTL_SECONDS']) {
        assert.match(text, new RegExp(name));
      }
      assert.equal(error.problems.length, 5);
      return true;
    },
  );
});

test('CUTOUT_MODELS_DIR: ~ is the home folder, relative paths start at the working directory', async () => {
  const { homedir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  assert.equal(loadConfig({}).modelsDir, join(homedir(), '.cutout', 'models'));
  assert.equal(loadConfig({ CUTOUT_MODELS_DIR: '~/m' }).modelsDir, join(homedir(), 'm'));
  assert.equal(loadConfig({ CUTOUT_MODELS_DIR: 'rel/models' }).modelsDir, resolve('rel/models'));
  assert.equal(loadConfig({ CUTOUT_MODELS_DIR: '/abs/models' }).modelsDir, '/abs/models');
});
