import type { RequestListener } from 'node:http';
import { HttpMetrics, metricsHandler, UNMATCHED_ROUTE, type Registry } from '@cutout/shared/metrics';

export interface BatchHealth {
  /** Batch's own Redis connection is up. */
  redis: boolean;
  /** The worker loops are taking jobs (started, not stopping). */
  working: boolean;
  /** Jobs running in this process now. */
  running: number;
}

export interface BatchHttpDeps {
  registry: Registry;
  health: () => BatchHealth;
}

function sendJson(res: Parameters<RequestListener>[1], status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

/**
 * Batch's small HTTP side on BATCH_METRICS_PORT: `GET /metrics` (Prometheus text) and
 * `GET /health` (200 while its Redis connection is up and its workers take jobs, 503 otherwise:
 * what a container healthcheck or a load balancer asks). No express: two routes need none.
 */
export function createBatchHttp(deps: BatchHttpDeps): RequestListener {
  const http = new HttpMetrics(deps.registry, 'batch');
  const metrics = metricsHandler(deps.registry);
  return (req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    const route = get && (path === '/metrics' || path === '/health') ? path : UNMATCHED_ROUTE;
    res.once('finish', () => http.observe(route, res.statusCode, started));
    if (route === '/metrics') return metrics(req, res);
    if (route === '/health') {
      const health = deps.health();
      const ok = health.redis && health.working;
      return sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'ng', redis: health.redis ? 'up' : 'down', workers: health.working ? 'running' : 'stopped', running: health.running });
    }
    sendJson(res, 404, { status: 'ng', error: { code: 'NOT_FOUND', message: `batch serves GET /metrics and GET /health only, not ${req.method} ${path}` } });
  };
}
