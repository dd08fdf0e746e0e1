export { PredictClient, createPredictClient, type PredictClientOptions, type PredictCallOptions, type PredictServerHealth } from './predict.client.js';
export { PredictError, PredictRejectedError, PredictUnavailableError, PredictTimeoutError, PredictFailedError } from './predict.errors.js';
export { JobProcessor, createJobProcessor, type JobProcessorDeps, type JobOutcome, type Predictor } from './job.processor.js';
export { WorkerPool, createWorkerPool, type WorkerPoolOptions } from './worker-pool.js';
