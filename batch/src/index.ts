export {
  PredictClient,
  createPredictClient,
  type PredictClientOptions,
  type PredictCallOptions,
  type PredictOutput,
  type PredictServerHealth,
} from './predict.client.js';
export { parseServerTiming, predictStageTimings, type PredictStageTimings, type ServerTimingMetric } from './server-timing.js';
export { PredictError, PredictRejectedError, PredictUnavailableError, PredictTimeoutError, PredictFailedError } from './predict.errors.js';
export {
  JobProcessor,
  createJobProcessor,
  type JobProcessorDeps,
  type JobOutcome,
  type ProcessResult,
  type ProcessOptions,
  type Predictor,
  type ProcessorRepository,
} from './job.processor.js';
export { WorkerPool, createWorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { JobWaiter, WaitOverdueError, type JobWaiterOptions } from './job-waiter.js';
export { LeaseHeartbeat, LeaseLostError, type LeaseHeartbeatOptions } from './lease-heartbeat.js';
export { Reaper, type ReaperOptions } from './reaper.js';
export { retryDelayMs, type RetryPolicy } from './retry-policy.js';
