import { createServer, type Server } from 'node:http';
import sharp from 'sharp';
import { loadConfigOrExit } from '@cutout/config';
import { createLogger, serverLimits } from '@cutout/shared';
import { createApp } from './app.js';
import { loadModel, type LoadedModel } from './model/model-loader.js';
import { InferenceBatcher } from './pipeline/batcher.js';
import { ModelConfigError, parseModelSpec, type ModelSpec } from './model/model-spec.js';

function badModelExit(error: unknown): never {
  if (!(error instanceof ModelConfigError)) throw error;
  process.stderr.write(`cutout predict: invalid settings:\n  - ${error.message}\n`);
  process.exit(2);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops taking connections, lets in-flight requests finish until the deadline, then cuts the rest. */
function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

async function main(): Promise<void> {
  const config = loadConfigOrExit('predict');
  let spec: ModelSpec;
  try {
    spec = parseModelSpec(config.model, { modelsDir: config.modelsDir });
  } catch (error) {
    badModelExit(error);
  }
  const logger = createLogger('predict', config.logLevel);
  if (config.predictSharpConcurrency > 0) sharp.concurrency(config.predictSharpConcurrency);

  let model: LoadedModel | undefined;
  let batcher: InferenceBatcher | undefined;
  let closing = false;
  const app = createApp({
    logger,
    model: () => model,
    batcher: () => batcher,
    maxImageBytes: config.maxImageBytes,
    maxImagePixels: config.maxImagePixels,
    pngCompression: config.outputPngCompression,
    gate: { token: config.predictToken, maxInflight: config.predictMaxInflight },
  });
  // A request must have arrived whole in time (408 otherwise): a slow sender cannot hold a slot.
  const server = createServer(serverLimits(config.httpRequestTimeoutMs), app);
  await listen(server, config.predictPort, config.predictHost);
  logger.info('listening', { host: config.predictHost, port: config.predictPort, model: spec.name });

  // Loading after listen lets /health say "loading" instead of refusing connections.
  loadModel(spec, {
    intraOpThreads: config.predictIntraOpThreads,
    interOpThreads: config.predictInterOpThreads,
    graphOptimizationLevel: config.predictGraphOptimization,
    threadSpinning: config.predictThreadSpinning,
  }).then(
    (loaded) => {
      if (closing) return void loaded.close();
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
    (error: unknown) => {
      logger.error('model failed to load', { error: error instanceof Error ? error.message : String(error) });
      badModelExit(error);
    },
  );

  const shutdown = async (signal: string) => {
    if (closing) {
      // A second signal means "now": skip the grace period.
      logger.warn('second signal, exiting at once', { signal });
      process.exit(1);
    }
    closing = true;
    logger.info('shutting down', { signal });
    // Reverse order of start: stop serving first, then the batcher (its runs finish), then the model they used.
    await closeServer(server, config.shutdownGraceMs).catch((error: unknown) => logger.error('closing the server failed', { error }));
    await batcher?.close().catch((error: unknown) => logger.error('closing the batcher failed', { error }));
    await model?.close().catch((error: unknown) => logger.error('releasing the model failed', { error }));
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`cutout predict: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
