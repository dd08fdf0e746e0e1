import type { Logger } from '../logger.js';
import { errorMessage } from '../error-message.js';

/** One thing a service holds open (a listener, a connection, a worker pool), and how to let it go. */
export interface ServicePart {
  /** Named in the log when the step fails or runs late. */
  name: string;
  close: () => Promise<void> | void;
  /** Called when `close` has not finished by its deadline (destroy a hung socket, say). */
  force?: () => void;
  /** How long `close` may take; default the service's `stepTimeoutMs`. */
  timeoutMs?: number;
}

export interface ServiceContext {
  /**
   * Adds a part. Parts close in the reverse order of `add`, so add what others use first (Redis)
   * and what takes requests last (the listener): the listener then stops first and Redis last.
   * A part added once stopping has begun is closed at once.
   */
  add(part: ServicePart): void;
  /** Aborts when the service starts to stop; `start` checks it between slow steps. */
  readonly stopping: AbortSignal;
  /** Ends the service as a failure at any time: logs `error`, closes every part, exits with `exitCode` (default 1). */
  fail(error: unknown, exitCode?: number): void;
  /**
   * From now on, an uncaught exception or unhandled rejection goes to `handler` and the service
   * goes on, instead of failing it. For a service whose state lives elsewhere (the proxy: Redis
   * holds the jobs, each request holds its own), where one request's stray error must not end
   * every other request. Until it is called (a failed start), and once stopping has begun, such
   * an error still ends the service.
   */
  containStrayErrors(handler: (error: unknown, origin: StrayErrorOrigin) => void): void;
}

export type StrayErrorOrigin = 'uncaughtException' | 'unhandledRejection';

export interface RunServiceOptions {
  /** The service's name in log lines ("proxy", "batch"). */
  name: string;
  logger: Logger;
  /** Builds and starts the service, adding each part it opens. A rejection stops the service with exit code 1. */
  start: (service: ServiceContext) => Promise<void> | void;
  /** Default deadline of one close step. Default 2000 ms. */
  stepTimeoutMs?: number;
  /** Default process.exit. */
  exit?: (code: number) => void;
}

const DEFAULT_STEP_TIMEOUT_MS = 2_000;

/** Resolves 'done' when `run` settles (rethrowing its error), 'late' when `ms` pass first. */
async function withDeadline(run: () => Promise<void> | void, ms: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  try {
    return await Promise.race([Promise.resolve().then(run).then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The life of one service process, the same for proxy, batch and predict: `start` opens the
 * parts; the first SIGTERM or SIGINT closes them in reverse order, each within its deadline
 * (past it the part is forced and the exit code becomes 1), then exits 0, or 1 if a step
 * failed. A second signal exits 1 at once. A failed start, an unhandled rejection or an
 * uncaught exception is logged and closes the parts too, then exits non-zero: nothing is left
 * half-open, and a supervisor sees the failure; a service that has called containStrayErrors
 * hands the last two to its handler instead and goes on.
 */
export function runService(options: RunServiceOptions): void {
  const { name, logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const parts: ServicePart[] = [];
  const stopping = new AbortController();
  let exitCode = 0;
  let contain: ((error: unknown, origin: StrayErrorOrigin) => void) | null = null;

  async function closePart(part: ServicePart): Promise<void> {
    const limitMs = part.timeoutMs ?? stepTimeoutMs;
    try {
      if ((await withDeadline(part.close, limitMs)) === 'done') return;
      exitCode = 1;
      logger.error('shutdown step failed', { step: part.name, error: `did not finish within ${limitMs} ms${part.force ? '; forced' : ''}` });
      try {
        part.force?.();
      } catch {
        // Forcing is the last resort; nothing more can be done with this part.
      }
    } catch (error) {
      exitCode = 1;
      logger.error('shutdown step failed', { step: part.name, error: errorMessage(error) });
    }
  }

  async function closeAll(): Promise<void> {
    // Every step runs, even after one failed: each part holds something of its own.
    while (parts.length > 0) await closePart(parts.pop()!);
    logger.info('stopped', { exit_code: exitCode });
    exit(exitCode);
  }

  function stop(code: number, fields: Record<string, unknown>): void {
    if (code !== 0) exitCode = Math.max(exitCode, code);
    if (stopping.signal.aborted) return;
    logger.info('shutting down', { service: name, ...fields });
    stopping.abort();
    void closeAll();
  }

  const context: ServiceContext = {
    // While stopping, the loop in closeAll takes the newest part next, so a late one closes at once.
    add: (part) => void parts.push(part),
    stopping: stopping.signal,
    fail(error, code = 1) {
      logger.error(`${name} failed`, { error: errorMessage(error), stack: error instanceof Error ? error.stack : undefined });
      stop(code, { reason: 'failure' });
    },
    containStrayErrors(handler) {
      contain = handler;
    },
  };

  const onStray = (origin: StrayErrorOrigin) => (error: unknown) => {
    if (contain === null || stopping.signal.aborted) return context.fail(error);
    try {
      contain(error, origin);
    } catch (handlerError) {
      // A handler that cannot even log leaves nothing to trust: end as before.
      context.fail(handlerError);
    }
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      // Whatever is still open (a running job's lease, a socket) is left to its own expiry.
      logger.warn('second signal: exiting now', { signal });
      return exit(1);
    }
    stop(0, { signal });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', onStray('unhandledRejection'));
  process.on('uncaughtException', onStray('uncaughtException'));

  Promise.resolve()
    .then(() => options.start(context))
    .then(
      () => undefined,
      (error: unknown) => {
        // A start cut short by a signal fails on purpose (its connections were closed under it).
        if (stopping.signal.aborted) return;
        logger.error(`${name} failed to start`, { error: errorMessage(error) });
        stop(1, { reason: 'start failed' });
      },
    );
}
