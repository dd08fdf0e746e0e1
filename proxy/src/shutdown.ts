import type { Server, ServerResponse } from 'node:http';
import type { Logger } from '@cutout/shared';

export interface ShutdownStep {
  name: string;
  close: () => Promise<void>;
  /** Called when `close` has not finished within the step limit (e.g. destroy a hung connection). */
  force?: () => void;
}

export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  /** How long in-flight requests may run after the signal (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  /** Run in order once the HTTP server has closed; every step runs even if one before it failed. */
  steps: ShutdownStep[];
  /**
   * Runs at the signal, before the server closes: long polls answer now with the state they
   * have instead of holding the shutdown for the rest of their wait.
   */
  beforeClose?: () => void;
  /** How long one step may take before it is forced (default 2 s). */
  stepTimeoutMs?: number;
  exit: (code: number) => void;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // Stops listening at once: new connections are refused from here on.
    server.close(() => resolve());
    // Keep-alive connections with no request in flight would otherwise hold close() open.
    server.closeIdleConnections();
  });
}

async function runStep(step: ShutdownStep, limitMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), limitMs);
  });
  try {
    const outcome = await Promise.race([step.close().then(() => 'done' as const), limit]);
    if (outcome === 'late') {
      step.force?.();
      throw new Error(`did not finish within ${limitMs} ms${step.force ? '; forced' : ''}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Returns the SIGTERM/SIGINT handler. The first signal stops intake (the listener closes, and
 * responses still being written say `Connection: close` so keep-alive clients do not send more),
 * lets in-flight requests finish for up to `graceMs`, cuts whatever is left, runs the steps and
 * exits 0 (1 if a step failed). A second signal exits at once with 1.
 */
export function gracefulShutdown(options: ShutdownOptions): (signal: NodeJS.Signals) => void {
  const { server, logger, graceMs, steps, exit } = options;
  let stopping = false;
  // Responses not yet started when the signal comes must say `Connection: close` too, so the
  // ones in flight are tracked (Node does not mark them when the server closes).
  const open = new Set<ServerResponse>();
  const markClosing = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopping) return markClosing(res);
    open.add(res);
    res.once('close', () => open.delete(res));
  });

  async function stop(signal: NodeJS.Signals): Promise<void> {
    logger.info('shutting down', { signal, grace_ms: graceMs });
    try {
      options.beforeClose?.();
    } catch (error) {
      logger.error('shutdown step failed', { step: 'before close', error: errorText(error) });
    }
    const deadline = setTimeout(() => {
      logger.warn('grace period over: closing the connections still open', { grace_ms: graceMs });
      server.closeAllConnections();
    }, graceMs);
    deadline.unref();
    await closeServer(server);
    clearTimeout(deadline);
    let code = 0;
    for (const step of steps) {
      try {
        await runStep(step, options.stepTimeoutMs ?? 2_000);
      } catch (error) {
        code = 1;
        logger.error('shutdown step failed', { step: step.name, error: errorText(error) });
      }
    }
    logger.info('stopped', { exit_code: code });
    exit(code);
  }

  return (signal) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      exit(1);
      return;
    }
    stopping = true;
    for (const res of open) markClosing(res);
    void stop(signal);
  };
}
