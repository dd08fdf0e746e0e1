export { ProxyClient, ProxyUnreachableError, ApiError, type JobView, type StartedJob, type ProxyClientOptions } from './request/api-client.js';
export { parseRequestArgs, proxyBaseUrl, UsageError, type RequestOptions } from './request/args.js';
export { runRequests, formatSummary, ProxyUnhealthyError, type RunResult } from './request/runner.js';
export { createReporter, type Reporter } from './request/progress.js';
