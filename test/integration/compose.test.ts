import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPOSE_DEFAULT_PREDICT_TOKEN, loadConfig } from '@cutout/config';
import { SERVICE_NODE_FLAGS, type ServiceName } from '@cutout/dev';

/** The repository root, from test/dist/integration/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Service {
  image?: string;
  build?: string | { context?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | null>;
  ports?: ({ published?: string | number; target?: number } | string)[];
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }> | string[];
}

function run(cmd: string, args: string[], input?: string) {
  return spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', input, timeout: 60_000 });
}

/** `docker compose` (v2 plugin) or `docker-compose` (v1 or v2 standalone), whichever answers. */
function composeCommand(): string[] | undefined {
  if (run('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (run('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return undefined;
}

/**
 * The resolved compose file as an object. v2 prints JSON on request; v1 only prints YAML, which
 * is read with the PyYAML that v1 itself runs on.
 */
function resolvedConfig(cmd: string[]): { config?: { services: Record<string, Service> }; skip?: string } {
  const [bin, ...pre] = cmd as [string, ...string[]];
  const json = run(bin, [...pre, 'config', '--format', 'json']);
  if (json.status === 0 && json.stdout.trim().startsWith('{')) return { config: JSON.parse(json.stdout) };
  const yaml = run(bin, [...pre, 'config']);
  assert.equal(yaml.status, 0, `${cmd.join(' ')} config failed:\n${yaml.stderr}`);
  const converted = run('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], yaml.stdout);
  if (converted.status !== 0) return { skip: `${cmd.join(' ')} config is valid, but it prints YAML and python3 with PyYAML is not available to read it` };
  return { config: JSON.parse(converted.stdout) };
}

const cmd = composeCommand();
const resolved = cmd ? resolvedConfig(cmd) : { skip: 'neither "docker compose" nor "docker-compose" is installed (Debian: apt-get install docker-compose)' };
const skip = resolved.skip ?? false;
if (skip) process.stderr.write(`compose.test: skipped: ${skip}\n`);

function service(name: string): Service {
  const found = resolved.config?.services[name];
  assert.ok(found, `service ${name} exists`);
  return found;
}

const words = (value: string[] | string | undefined): string => (Array.isArray(value) ? value.join(' ') : (value ?? ''));

function dependsOnHealthy(svc: Service, on: string): void {
  const deps = svc.depends_on;
  assert.ok(deps && !Array.isArray(deps), 'depends_on with conditions');
  assert.equal(deps[on]?.condition, 'service_healthy', `waits for ${on} to be healthy`);
}

test('compose defines exactly redis, predict, batch and proxy', { skip }, () => {
  assert.deepEqual(Object.keys(resolved.config?.services ?? {}).sort(), ['batch', 'predict', 'proxy', 'redis']);
});

test('redis 7 keeps an append-only file, never evicts, and has a ping healthcheck', { skip }, () => {
  const redis = service('redis');
  assert.match(redis.image ?? '', /^redis:7/);
  assert.match(words(redis.command), /--appendonly yes/);
  assert.match(words(redis.command), /--maxmemory-policy noeviction/);
  assert.match(words(redis.healthcheck?.test), /redis-cli ping/);
});

test('the three node services share one image built from the repository root', { skip }, () => {
  for (const name of ['predict', 'batch', 'proxy']) {
    const svc = service(name);
    const context = typeof svc.build === 'string' ? svc.build : svc.build?.context;
    assert.equal(resolve(ROOT, context ?? '.'), resolve(ROOT), `${name} builds from the repository root`);
    assert.equal(svc.image, service('predict').image, `${name} uses the same image`);
    // The same node flags as every other way the service starts (npm start, the bench, the tests).
    assert.equal(words(svc.command), ['node', ...SERVICE_NODE_FLAGS[name as ServiceName], `${name}/dist/main.js`].join(' '));
  }
});

test('predict listens on 5001 and is health-checked with node (the slim image has no curl)', { skip }, () => {
  const predict = service('predict');
  assert.equal(String(predict.environment?.PREDICT_PORT), '5001');
  assert.match(words(predict.healthcheck?.test), /^CMD node -e .*fetch\('http:\/\/127\.0\.0\.1:5001\/health'\)/);
});

test('predict and batch listen on every interface of their containers, and predict has the token batch sends', { skip }, () => {
  const predict = service('predict');
  const batch = service('batch');
  // Their defaults are loopback, which other containers cannot reach.
  assert.equal(predict.environment?.PREDICT_HOST, '0.0.0.0');
  assert.equal(batch.environment?.BATCH_METRICS_HOST, '0.0.0.0');
  const token = predict.environment?.PREDICT_TOKEN;
  assert.ok(typeof token === 'string' && token.length >= 16, 'predict gets a PREDICT_TOKEN without any file being edited');
  assert.equal(batch.environment?.PREDICT_TOKEN, token, 'batch sends the token predict asks for');
  // predict's own check passes on exactly what compose gives it.
  const env = Object.fromEntries(Object.entries(predict.environment ?? {}).map(([k, v]) => [k, v === null ? undefined : String(v)]));
  assert.doesNotThrow(() => loadConfig(env, 'predict'));
  // The default in the file is the one predict warns about.
  const raw = readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8');
  const defaults = [...raw.matchAll(/PREDICT_TOKEN: \$\{PREDICT_TOKEN:-([^}]*)\}/g)].map((m) => m[1]);
  assert.deepEqual(defaults, [COMPOSE_DEFAULT_PREDICT_TOKEN, COMPOSE_DEFAULT_PREDICT_TOKEN]);
});

test('batch reaches predict and redis by service name and waits until both are healthy', { skip }, () => {
  const batch = service('batch');
  assert.equal(batch.environment?.PREDICT_URL, 'http://predict:5001');
  assert.equal(batch.environment?.REDIS_URL, 'redis://redis:6379');
  dependsOnHealthy(batch, 'predict');
  dependsOnHealthy(batch, 'redis');
});

test('batch serves /metrics and /health on 5002, unpublished, and is health-checked with node on /health', { skip }, () => {
  const batch = service('batch');
  assert.equal(String(batch.environment?.BATCH_METRICS_PORT), '5002');
  assert.match(words(batch.healthcheck?.test), /^CMD node -e .*fetch\('http:\/\/127\.0\.0\.1:5002\/health'\)/);
  assert.deepEqual(batch.ports ?? [], [], 'its metrics stay on the internal network');
});

test('proxy publishes 5000, waits for a healthy redis and has its own healthcheck', { skip }, () => {
  const proxy = service('proxy');
  assert.equal(proxy.environment?.REDIS_URL, 'redis://redis:6379');
  const ports = (proxy.ports ?? []).map((p) => (typeof p === 'string' ? p : `${Number(p.published)}:${p.target}`));
  assert.ok(ports.some((p) => /(^|:)5000:5000$/.test(p)), `5000 published: ${ports.join(', ')}`);
  dependsOnHealthy(proxy, 'redis');
  assert.match(words(proxy.healthcheck?.test), /fetch\('http:\/\/127\.0\.0\.1:5000\/health'\)/);
});

test('the Dockerfile builds on node:20-bookworm-slim, runs as node and keeps the model in its context', () => {
  const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2 && froms.every((f) => f === 'node:20-bookworm-slim'), `multi-stage on node:20-bookworm-slim: ${froms.join(', ')}`);
  assert.match(dockerfile, /^RUN npm ci\b/m);
  assert.match(dockerfile, /^COPY package\.json package-lock\.json \.npmrc/m);
  assert.match(dockerfile, /npm prune --omit=dev/);
  assert.match(dockerfile, /^USER node$/m);
  const ignore = readFileSync(resolve(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  assert.ok(ignore.includes('**/node_modules') && ignore.includes('**/dist') && ignore.includes('.git'));
  assert.ok(!ignore.some((l) => /^(predict(\/models)?\/?|\*\*\/\*\.onnx|\*\.onnx)$/.test(l)), 'the model is not ignored');
});
