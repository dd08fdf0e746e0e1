import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { closeRedisClient, JobRepository, startRedisServer, type RedisClient, type RedisServerHandle } from '@cutout/shared';
import { memoryLogger } from '@cutout/shared/testing';
import type { Express } from 'express';
import { createApp } from './app.js';
import { connectRedis } from './app-harness.js';

let server: RedisServerHandle | undefined;
let redis: RedisClient | undefined;
let http: Server | undefined;
let app: Express;
let url = '';

before(async () => {
  server = await startRedisServer();
  redis = await connectRedis(server.url);
  const { logger } = memoryLogger();
  app = createApp({
    jobs: new JobRepository(redis, { keyPrefix: 'openapi-test:', ttlSeconds: 60 }),
    logger,
    limits: { maxImageBytes: 1024 * 1024, maxImagePixels: 1_000_000 },
    model: 'test-model',
    jobTtlSeconds: 60,
  });
  http = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

after(async () => {
  if (http) {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http!.close(() => resolve()));
  }
  if (redis) await closeRedisClient(redis);
  await server?.stop();
});

interface RouteLike {
  path: unknown;
  methods: Record<string, boolean>;
}
interface LayerLike {
  route?: RouteLike;
  handle?: { stack?: LayerLike[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** "METHOD /path/{param}" for every route the express 5 app serves, nested routers included. */
function servedRoutes(stack: readonly LayerLike[], prefix = ''): string[] {
  const routes: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths) {
        assert.equal(typeof path, 'string', `a route path that is not a plain string cannot be documented: ${String(path)}`);
        const openApiPath = `${prefix}${path as string}`.replace(/:(\w+)/g, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${openApiPath}`);
        }
      }
    } else if (Array.isArray(layer.handle?.stack)) {
      const mount = layer.slash || typeof layer.rawPath !== 'string' || layer.rawPath === '/' ? '' : layer.rawPath;
      routes.push(...servedRoutes(layer.handle.stack, `${prefix}${mount}`));
    }
  }
  return routes;
}

async function getDocument(): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

test('/openapi.json is a valid OpenAPI 3.1 document', async () => {
  const doc = await getDocument();
  assert.match(String(doc.openapi), /^3\.1\./);
  const validator = new Validator();
  const result = await validator.validate(doc);
  assert.equal(result.valid, true, `validation errors: ${JSON.stringify(result.errors, null, 2)?.slice(0, 4000)}`);
  assert.equal(validator.version, '3.1');
  // Every $ref resolves (resolveRefs throws on a dangling one).
  assert.doesNotThrow(() => validator.resolveRefs());
});

test('every route the app serves is in the document, and every documented one is served', async () => {
  const doc = await getDocument();
  const paths = doc.paths as Record<string, Record<string, unknown>>;
  const documented = new Set(
    Object.entries(paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'].includes(k))
        .map((method) => `${method.toUpperCase()} ${path}`),
    ),
  );
  const served = new Set(servedRoutes((app.router as unknown as { stack: LayerLike[] }).stack));
  assert.ok(served.size >= 12, `the walk found the app's routes (${[...served].join(', ')})`);
  // The contract's calls (§1, §6 as far as this issue goes) are among them.
  for (const route of ['GET /health', 'GET /metadata', 'POST /start_job', 'GET /get_job/{job_id}', 'POST /v1/jobs', 'GET /v1/jobs/{id}', 'GET /v1/jobs/{id}/result', 'POST /v1/remove', 'POST /api/remove', 'GET /api/remove', 'POST /predict', 'GET /tasks/{task_id}', 'POST /', 'GET /openapi.json', 'GET /docs']) {
    assert.ok(served.has(route), `the app serves ${route}`);
  }
  // The docs page's own static files (under /docs/, like the swagger-ui assets) are not API calls.
  const pageFile = (route: string) => route.startsWith('GET /docs/');
  const undocumented = [...served].filter((r) => !documented.has(r) && !pageFile(r)).sort();
  const unserved = [...documented].filter((r) => !served.has(r)).sort();
  assert.deepEqual({ undocumented, unserved }, { undocumented: [], unserved: [] });
});

test('every operation documents its error answers with the error body', async () => {
  const doc = await getDocument();
  const paths = doc.paths as Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const errors = Object.entries(op.responses).filter(([status]) => /^[45]\d\d$/.test(status));
      assert.ok(errors.length > 0, `${method} ${path} documents an error answer`);
      for (const [status, answer] of errors) {
        assert.equal(answer.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorBody', `${method} ${path} ${status}`);
      }
      if (method === 'post') {
        // Every upload call says what it answers to a bad image and an unknown option.
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.includes('400') && statuses.includes('413'), `${method} ${path}: 400 and 413 documented (${statuses.join(',')})`);
      }
    }
  }
});

test('/docs is an HTML page that loads only same-origin scripts, which are served', async () => {
  const res = await fetch(`${url}/docs`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  const scripts = [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
  const styles = [...html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);
  assert.ok(scripts.length > 0, 'the page loads a script');
  for (const src of [...scripts, ...styles]) {
    assert.doesNotMatch(src, /^(https?:)?\/\//i, `${src} is same-origin`);
    const asset = await fetch(new URL(src, `${url}/docs`));
    await asset.arrayBuffer();
    assert.equal(asset.status, 200, `${src} is served`);
  }
  assert.doesNotMatch(html, /\bsrc\s*=\s*["']?(https?:)?\/\//i, 'no other remote source either');
  const bundle = await fetch(`${url}/docs/assets/swagger-ui-bundle.js`);
  const body = await bundle.text();
  assert.equal(bundle.status, 200);
  assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
  assert.ok(body.includes('SwaggerUIBundle'), 'the bundle is Swagger UI');
});
