import { startStack, REPO_ROOT, type StackHandle, type StackPids } from '@cutout/dev';

export { REPO_ROOT };

export interface TestStack {
  readonly proxyUrl: string;
  readonly predictUrl: string;
  /** batch's GET /metrics and GET /health. */
  readonly batchMetricsUrl: string;
  readonly redisUrl: string;
  /** The services' process ids, e.g. for their peak memory (test/support/service-watch.ts). */
  readonly pids: StackPids;
  /** Everything the services printed, for a failing assertion's message. */
  readonly logs: string[];
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** Each test file gets its own key prefix, so nothing it writes meets another file's keys. */
  keyPrefix: string;
  env?: Record<string, string>;
}

/**
 * The real stack as child processes: a private redis-server on a free port, then predict,
 * batch and proxy on free ports, exactly what `npm start` runs.
 */
export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const logs: string[] = [];
  const handle: StackHandle = await startStack({
    proxyPort: 0,
    predictPort: 0,
    batchMetricsPort: 0,
    // A private Redis even when the developer has REDIS_URL set: tests must not touch real data.
    redisUrl: undefined,
    // cutout-border, the cheapest built-in model: these tests are about the stack; the default model has its own tests in predict.
    env: { REDIS_URL: undefined, REDIS_KEY_PREFIX: options.keyPrefix, LOG_LEVEL: 'warn', MODEL: 'cutout-border', ...options.env },
    pretty: false,
    logSink: (line) => {
      logs.push(line);
      if (logs.length > 2000) logs.shift();
    },
  });
  return {
    proxyUrl: handle.proxyUrl,
    predictUrl: handle.predictUrl,
    batchMetricsUrl: handle.batchMetricsUrl,
    redisUrl: handle.redisUrl,
    pids: handle.pids,
    logs,
    stop: () => handle.stop(),
  };
}
