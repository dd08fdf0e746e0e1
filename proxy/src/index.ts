export { createApp, createProxy, DEFAULT_HEALTH_TIMEOUT_MS, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_QUEUE_FULL_RETRY_AFTER_S, type ProxyDeps } from './app.js';
export { checkUpload, type JobStore, type UploadLimits, type CheckedUpload } from './jobs.service.js';
export { toJobView, type JobView } from './job-views.js';
export { bodyLimitBytes } from './jobs.schema.js';
export { JobDoneListener, DEFAULT_MAX_WAITERS, type JobDoneListenerOptions, type JobDoneWaits, type JobWait, type WakeReason } from './job-done.listener.js';
export { parseWait, MAX_WAIT_SECONDS } from './jobs.schema.js';
