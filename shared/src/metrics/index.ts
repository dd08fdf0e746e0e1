export { createMetricsRegistry, metricsHandler } from './registry.js';
export { HttpMetrics, routeOf, UNMATCHED_ROUTE } from './http-metrics.js';
export { registerQueueMetrics, type QueueMetricsOptions } from './queue-metrics.js';
export { callbackMetrics } from './callback-metrics.js';
export { Registry } from 'prom-client';
