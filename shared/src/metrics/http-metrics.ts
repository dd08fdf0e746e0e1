import type { Request, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Seconds; from a cached get_job (sub-millisecond) to a synchronous cutout of a large image. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The route label of a request no route matched (404s, static files): one value, not its URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * `cutout_http_request_duration_seconds{service,route,status}`, for every HTTP path of a
 * service, express or not. `route` is the route's pattern (`/get_job/:job_id`), never the URL,
 * so the number of series stays bounded.
 *
 * Wiring a node:http fast path (one that answers without express): take
 * `const started = process.hrtime.bigint()` when the request arrives, and once the answer is
 * written call `httpMetrics.observe('/get_job/:job_id', res.statusCode, started)`, with the same
 * pattern express would report for that call. One histogram observe per request; nothing per byte.
 */
export class HttpMetrics {
  readonly #histogram: Histogram<'service' | 'route' | 'status'>;
  readonly #cuts: Counter<'service' | 'route'>;
  readonly #service: string;

  constructor(registry: Registry, service: string) {
    this.#service = service;
    const name = 'cutout_http_request_duration_seconds';
    // Proxy and its tests may build several apps on one registry: they then share the one histogram.
    this.#histogram =
      (registry.getSingleMetric(name) as Histogram<'service' | 'route' | 'status'> | undefined) ??
      new Histogram({
        name,
        help: 'HTTP requests by service, route pattern and status: time from arrival to the last byte of the answer',
        labelNames: ['service', 'route', 'status'],
        buckets: HTTP_BUCKETS,
        registers: [registry],
      });
    const cuts = 'cutout_http_responses_cut_total';
    this.#cuts =
      (registry.getSingleMetric(cuts) as Counter<'service' | 'route'> | undefined) ??
      new Counter({
        name: cuts,
        help: 'Responses whose connection was cut because the client did not read them within HTTP_WRITE_TIMEOUT_MS + size / HTTP_WRITE_MIN_BYTES_PER_S',
        labelNames: ['service', 'route'],
        registers: [registry],
      });
  }

  /** Counts one response cut by the write deadline (write-deadline.ts). */
  cut(route: string): void {
    this.#cuts.inc({ service: this.#service, route });
  }

  /** Records one request that arrived at `startedAtNs` (process.hrtime.bigint()) and has just been answered. */
  observe(route: string, status: number, startedAtNs: bigint): void {
    const seconds = Number(process.hrtime.bigint() - startedAtNs) / 1e9;
    this.#histogram.observe({ service: this.#service, route, status: String(status) }, seconds);
  }
}

/** An express request's route pattern once routing is done, or UNMATCHED_ROUTE. */
export function routeOf(req: Request, _res?: Response): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : UNMATCHED_ROUTE;
}
