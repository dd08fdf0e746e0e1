import { Counter, Gauge, type Registry } from 'prom-client';
import type { BodyBudget } from './body-budget.js';

/** cutout_proxy_stray_errors_total{origin}: errors no handler caught, which the proxy logged and lived through. */
export function strayErrorMetric(registry: Registry): Counter<'origin'> {
  return new Counter({
    name: 'cutout_proxy_stray_errors_total',
    help: 'Uncaught exceptions and unhandled rejections the proxy contained (logged, and went on serving)',
    labelNames: ['origin'],
    registers: [registry],
  });
}

/** The body budget as gauges read at each scrape: what is held, the limit, and the requests turned away. */
export function registerBodyMetrics(registry: Registry, budget: BodyBudget): void {
  new Gauge({
    name: 'cutout_proxy_body_bytes_held',
    help: 'Request-body bytes taken from BODY_BUDGET_BYTES by requests in flight',
    registers: [registry],
    collect() {
      this.set(budget.held);
    },
  });
  new Gauge({
    name: 'cutout_proxy_body_budget_bytes',
    help: 'BODY_BUDGET_BYTES: the most request-body bytes the proxy holds at once',
    registers: [registry],
    collect() {
      this.set(budget.limit);
    },
  });
  new Counter({
    name: 'cutout_proxy_body_budget_refusals_total',
    help: 'Requests answered 503 BODY_BUDGET_FULL',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(budget.refused);
    },
  });
}
