import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { errorMessage } from '../error-message.js';

/**
 * A registry of this process's series, with Node's own (CPU, memory, event-loop lag, GC) among
 * them. One per process, handed to createApp and the parts that count things; never
 * prom-client's global default, so several apps in one test process do not share counts.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * GET /metrics: the registry in Prometheus text format. Works as an express handler and on
 * node:http alike. Queue gauges are read from Redis while the scrape runs (queue-metrics.ts).
 */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`metrics could not be collected: ${errorMessage(error)}\n`);
      },
    );
  };
}
