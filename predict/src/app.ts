import type { RequestListener } from 'node:http';
import express from 'express';
import { errorHandler, notFoundHandler, requestContext, type Logger } from '@cutout/shared';
import { HttpMetrics, metricsHandler, UNMATCHED_ROUTE, type Registry } from '@cutout/shared/metrics';
import { PredictMetrics } from './predict-metrics.js';
import { jsonBodyLimit, predictRoutes, type PredictRouteDeps } from './predict.routes.js';
import { createFastPredict } from './fast-predict.js';
import { createGate, type GateOptions } from './gate.js';

const DEFAULT_MAX_INFLIGHT = 16;

export interface AppDeps extends PredictRouteDeps {
  logger: Logger;
  /** PREDICT_TOKEN and PREDICT_MAX_INFLIGHT; default: open, 16 at once. */
  gate?: Partial<GateOptions>;
  /** This process's metrics registry: served on GET /metrics, with HTTP, stage and batch-size series. None: no /metrics. */
  metrics?: Registry;
}

/** The paths predict serves: a request the gate refuses is recorded under its own route, anything else as unmatched. */
const ROUTES: ReadonlySet<string> = new Set(['/health', '/metadata', '/predict', '/metrics']);

function mib(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;
}

/**
 * The predict HTTP app; it never listens, so tests and main.ts decide where it runs. Batch's
 * raw POST /predict takes the fast lane (fast-predict.ts); every other request goes to express.
 */
export function createApp(appDeps: AppDeps): RequestListener {
  const http = appDeps.metrics ? new HttpMetrics(appDeps.metrics, 'predict') : undefined;
  const deps = { ...appDeps, http, ...(appDeps.metrics ? { stageMetrics: new PredictMetrics(appDeps.metrics) } : {}) };
  const app = express();
  app.disable('x-powered-by');
  // Every cutout is new; hashing multi-megabyte PNGs for an ETag would only cost time.
  app.set('etag', false);
  app.use(requestContext(deps.logger, http));
  if (deps.metrics) app.get('/metrics', metricsHandler(deps.metrics));
  app.use(predictRoutes(deps));
  app.use(notFoundHandler());
  const bodyLimitHint = `send an image of at most ${mib(deps.maxImageBytes)} (${mib(jsonBodyLimit(deps.maxImageBytes))} as a base64 JSON body)`;
  app.use(errorHandler({ logger: deps.logger, bodyLimitHint }));
  const fast = createFastPredict(deps);
  const gate = createGate({ token: deps.gate?.token ?? '', maxInflight: deps.gate?.maxInflight ?? DEFAULT_MAX_INFLIGHT });
  return (req, res) => {
    if (http) {
      const started = process.hrtime.bigint();
      if (gate(req, res)) {
        const path = (req.url ?? '').split('?')[0] ?? '';
        return http.observe(ROUTES.has(path) ? path : UNMATCHED_ROUTE, res.statusCode, started);
      }
    } else if (gate(req, res)) return;
    if (!fast(req, res)) app(req, res);
  };
}
