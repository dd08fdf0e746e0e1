import { createServer } from 'node:http';
import sharp from 'sharp';
import { COMPOSE_DEFAULT_PREDICT_TOKEN, loadConfigOrExit } from '@cutout/config';
import { createLogger, enforceWriteDeadline, httpServerPart, listen, reportCuts, runService, serverLimits } from '@cutout/shared';
import { createMetricsRegistry, HttpMetrics } from '@cutout/shared/metrics';
import { createApp } from './app.js';
import { loadModel, type LoadedModel } from './model/model-loader.js';
import { InferenceBatcher } from './pipeline/batcher.js';
import { ModelConfigError, parseModelSpec, type ModelSpec } from './model/model-spec.js';

/** A bad MODEL is a settings error, reported as config reports its own: exit 2. */
const SETTINGS_EXIT_CODE = 2;

function badModelExit(error: unknown): never {
  if (!(error instanceof ModelConfigError)) throw error;
  process.stderr.write(`cutout predict: invalid settings:\n  - ${error.message}\n`);
  process.exit(SETTINGS_EXIT_CODE);
}

const config = loadConfigOrExit('predict');
let spec: ModelSpec;
try {
  spec = parseModelSpec(config.model, { modelsDir: config.modelsDir });
} catch (error) {
  badModelExit(error);
}
const logger = createLogger('predict', config.logLevel);
if (config.predictToken === COMPOSE_DEFAULT_PREDICT_TOKEN) {
  logger.warn('PREDICT_TOKEN is docker-compose.yml\'s public default: anything on the compose network can call predict with it; set your own PREDICT_TOKEN (16+ characters) in the shell or in .env');
}
if (config.predictSharpConcurrency > 0) sharp.concurrency(config.predictSharpConcurrency);

// Parts close in reverse: the listener first (requests in flight finish), then the batcher (its
// runs finish), then the model they used.
runService({
  name: 'predict',
  logger,
  start: async (service) => {
    let model: LoadedModel | undefined;
    let batcher: InferenceBatcher | undefined;
    service.add({ name: 'model', close: async () => model?.close() });
    service.add({ name: 'batcher', close: async () => batcher?.close() });
    const metrics = createMetricsRegistry();
    const app = createApp({
      logger,
      metrics,
      model: () => model,
      batcher: () => batcher,
      maxImageBytes: config.maxImageBytes,
      maxImagePixels: config.maxImagePixels,
      pngCompression: config.outputPngCompression,
      gate: { token: config.predictToken, maxInflight: config.predictMaxInflight },
    });
    // A request must have arrived whole in time (408 otherwise): a slow sender cannot hold a slot.
    const server = createServer(serverLimits(config.httpRequestTimeoutMs), app);
    // An answer batch does not read in time is cut: a stuck caller cannot hold a cutout's buffers.
    const deadline = enforceWriteDeadline(server, {
      floorMs: config.httpWriteTimeoutMs,
      minBytesPerSecond: config.httpWriteMinBytesPerS,
      onCut: reportCuts(logger, new HttpMetrics(metrics, 'predict')),
    });
    service.add({ name: 'write deadline', close: async () => deadline.close() });
    service.add(httpServerPart(server, { logger, graceMs: config.shutdownGraceMs }));
    const port = await listen(server, config.predictPort, config.predictHost);
    logger.info('listening', { host: config.predictHost, port, model: spec.name });

    // Loading after listen lets /health say "loading" instead of refusing connections.
    loadModel(spec, {
      intraOpThreads: config.predictIntraOpThreads,
      interOpThreads: config.predictInterOpThreads,
      graphOptimizationLevel: config.predictGraphOptimization,
      threadSpinning: config.predictThreadSpinning,
    }).then(
      (loaded) => {
        if (service.stopping.aborted) return void loaded.close();
        // The batcher is set before the model so no request can see a model without it.
        batcher = new InferenceBatcher(loaded, { maxBatch: config.predictMaxBatch, maxDelayMs: config.predictMaxDelayMs });
        model = loaded;
        logger.info('model loaded', {
          model: loaded.name,
          preset: loaded.preset.name,
          source: loaded.source,
          load_ms: loaded.loadMs,
          input_size: loaded.inputSize,
          max_batch: batcher.maxBatch,
          max_delay_ms: batcher.maxDelayMs,
        });
      },
      (error: unknown) => service.fail(error, error instanceof ModelConfigError ? SETTINGS_EXIT_CODE : 1),
    );
  },
});
