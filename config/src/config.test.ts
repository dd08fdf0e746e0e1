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
  assert.equal(config.batchMetricsHost, '127.0.0.1');
  assert.equal(config.predictHost, '127.0.0.1');
  assert.equal(config.proxyHost, '0.0.0.0', 'the proxy is the public API');
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

test('BATCH_REDIS_TIMEOUT_MS: unset, 5 s or a quarter of the lease; set, it must stay under a third of JOB_LEASE_MS', () => {
  assert.equal(loadConfig({}).batchRedisTimeoutMs, 5_000);
  assert.equal(loadConfig({ JOB_LEASE_MS: '600' }).batchRedisTimeoutMs, 150);
  assert.equal(loadConfig({ JOB_LEASE_MS: '300' }).batchRedisTimeoutMs, 75);
  assert.equal(loadConfig({ JOB_LEASE_MS: '600', BATCH_REDIS_TIMEOUT_MS: '199' }).batchRedisTimeoutMs, 199);
  for (const [timeout, lease] of [['200', '600'], ['5000', '10000'], ['60000', '30000']] as const) {
    assert.throws(
      () => loadConfig({ JOB_LEASE_MS: lease, BATCH_REDIS_TIMEOUT_MS: timeout }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.problems.length, 1);
        // One problem naming both variables, with the values that clash.
        assert.match(error.problems[0]!, new RegExp(`BATCH_REDIS_TIMEOUT_MS=${timeout} with JOB_LEASE_MS=${lease}`));
        return true;
      },
    );
  }
});

test('MAX_REQUEST_BYTES is at most 256 MiB (half of V8\'s longest string), and BODY_BUDGET_BYTES must hold one such request', () => {
  const config = loadConfig({});
  assert.equal(config.maxRequestBytes, 128 * 1024 * 1024);
  assert.equal(config.bodyBudgetBytes, 256 * 1024 * 1024);
  assert.equal(loadConfig({ MAX_REQUEST_BYTES: String(256 * 1024 * 1024), BODY_BUDGET_BYTES: String(256 * 1024 * 1024) }).maxRequestBytes, 256 * 1024 * 1024);
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      return error.problems;
    }
  };
  assert.match(problems({ MAX_REQUEST_BYTES: String(256 * 1024 * 1024 + 1) }).join('\n'), /MAX_REQUEST_BYTES=.*from 65536 to 268435456/);
  const clash = problems({ MAX_REQUEST_BYTES: '2000000', BODY_BUDGET_BYTES: '1000000' });
  assert.equal(clash.length, 1);
  assert.match(clash[0]!, /BODY_BUDGET_BYTES=1000000 with MAX_REQUEST_BYTES=2000000/);
  // A bad value alone is reported, not its relation to the other.
  assert.deepEqual(problems({ MAX_REQUEST_BYTES: 'lots', BODY_BUDGET_BYTES: '1000000' }).map((p) => p.slice(0, p.indexOf('='))), ['MAX_REQUEST_BYTES']);
});

test('a relation is not checked against a value that is itself bad: only that value is reported', () => {
  assert.throws(
    () => loadConfig({ JOB_LEASE_MS: 'soon', BATCH_REDIS_TIMEOUT_MS: '20000' }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((p) => p.slice(0, p.indexOf('='))), ['JOB_LEASE_MS']);
      return true;
    },
  );
});

test('settings the chaos scenarios run with are accepted: a predict deadline longer than the lease is safe while the heartbeat renews it', () => {
  const config = loadConfig({ JOB_LEASE_MS: '600', PREDICT_TIMEOUT_MS: '20000', RETRY_BASE_DELAY_MS: '200', RETRY_MAX_DELAY_MS: '2000', JOB_DEFAULT_DEADLINE_S: '1' });
  assert.equal(config.predictTimeoutMs, 20_000);
  assert.equal(config.batchRedisTimeoutMs, 150);
});

test('MAX_IMAGE_BYTES stops at 256 MiB: predict reads a base64 JSON body as one string, which must stay under V8 512 MiB limit', () => {
  assert.equal(loadConfig({ MAX_IMAGE_BYTES: String(256 * 1024 * 1024) }).maxImageBytes, 256 * 1024 * 1024);
  assert.throws(() => loadConfig({ MAX_IMAGE_BYTES: String(512 * 1024 * 1024) }), /MAX_IMAGE_BYTES="536870912": expected a whole number from 1024 to 268435456/);
});

test('outbound settings: allow lists are lower case without IPv6 brackets; bad numbers are refused by name', () => {
  const config = loadConfig({ FETCH_ALLOW_HOSTS: ' Images.Internal , [::1]', CALLBACK_ALLOW_HOSTS: 'Hooks.Internal', FETCH_TIMEOUT_MS: '2500', CALLBACK_KEY_CONCURRENCY: '3' });
  assert.deepEqual(config.fetchAllowHosts, ['images.internal', '::1']);
  assert.deepEqual(config.callbackAllowHosts, ['hooks.internal']);
  assert.deepEqual([config.fetchTimeoutMs, config.callbackKeyConcurrency], [2500, 3]);
  const defaults = loadConfig({});
  assert.deepEqual([defaults.fetchAllowHosts, defaults.fetchTimeoutMs, defaults.callbackKeyConcurrency], [[], 10_000, 2]);
  assert.throws(
    () => loadConfig({ CALLBACK_KEY_CONCURRENCY: '0', FETCH_TIMEOUT_MS: 'soon' }),
    (error: unknown) => error instanceof ConfigError && error.problems.length === 2 && /CALLBACK_KEY_CONCURRENCY/.test(error.problems[0]!) && /FETCH_TIMEOUT_MS/.test(error.problems[1]!),
  );
});

test('predict: PREDICT_HOST off loopback without PREDICT_TOKEN is refused, naming both variables', () => {
  const token = 'a-token-of-16-chars-or-more';
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'predict', 'localhost']) {
    assert.throws(
      () => loadConfig({ PREDICT_HOST: host }, 'predict'),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith(`PREDICT_HOST=${JSON.stringify(host)}`) && p.includes('PREDICT_TOKEN')),
      host,
    );
    assert.equal(loadConfig({ PREDICT_HOST: host, PREDICT_TOKEN: token }, 'predict').predictHost, host);
    // Only predict listens there: the other services read PREDICT_HOST without serving on it.
    assert.equal(loadConfig({ PREDICT_HOST: host }, 'batch').predictHost, host);
  }
  for (const host of ['127.0.0.1', '::1']) assert.equal(loadConfig({ PREDICT_HOST: host }, 'predict').predictHost, host);
  assert.equal(loadConfig({}, 'predict').predictHost, '127.0.0.1');
});

test('STACK_REDIS_DIR: unset leaves the launcher its default; set, it is an absolute folder', async () => {
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  assert.equal(loadConfig({}).stackRedisDir, null);
  assert.equal(loadConfig({ STACK_REDIS_DIR: '/srv/cutout-redis' }).stackRedisDir, '/srv/cutout-redis');
  assert.equal(loadConfig({ STACK_REDIS_DIR: 'other/redis' }).stackRedisDir, join(process.cwd(), 'other', 'redis'));
  assert.equal(loadConfig({ STACK_REDIS_DIR: '~/cutout-redis' }).stackRedisDir, join(homedir(), 'cutout-redis'));
});
