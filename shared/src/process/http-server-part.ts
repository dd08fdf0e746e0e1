import type { Server, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { ServicePart } from './run-service.js';
import { errorMessage } from '../error-message.js';

export interface HttpServerPartOptions {
  /** "http server" by default. */
  name?: string;
  logger: Logger;
  /** How long in-flight requests may run once closing begins (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  /**
   * Runs as closing begins, before the listener closes: long polls answer now with the state
   * they have instead of holding the shutdown for the rest of their wait.
   */
  beforeClose?: () => void;
}

/** How far past the grace period the step may run (the cut connections need a moment to go). */
const AFTER_GRACE_MS = 2_000;

/**
 * The part of a service that is its HTTP listener. Closing it stops intake at once (new
 * connections are refused; responses still to be written say `Connection: close` so keep-alive
 * clients send no more), lets requests in flight finish for up to `graceMs`, then cuts the
 * connections still open. Call it when the server is created: it tracks responses from then on.
 */
export function httpServerPart(server: Server, options: HttpServerPartOptions): ServicePart {
  const { logger, graceMs } = options;
  let stopping = false;
  // Node does not mark the responses in flight when the server closes, so they are tracked.
  const open = new Set<ServerResponse>();
  const markClosing = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (stopping) return markClosing(res);
    open.add(res);
    res.once('close', () => open.delete(res));
  });

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      stopping = true;
      for (const res of open) markClosing(res);
      try {
        options.beforeClose?.();
      } catch (error) {
        logger.error('shutdown step failed', { step: 'before close', error: errorMessage(error) });
      }
      const deadline = setTimeout(() => {
        logger.warn('grace period over: closing the connections still open', { grace_ms: graceMs });
        server.closeAllConnections();
      }, graceMs);
      deadline.unref();
      // Stops listening at once; resolves once every connection is gone.
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      // Keep-alive connections with no request in flight would otherwise hold close() open.
      server.closeIdleConnections();
    });
    return closed;
  };
  return {
    name: options.name ?? 'http server',
    close,
    force: () => server.closeAllConnections(),
    timeoutMs: graceMs + AFTER_GRACE_MS,
  };
}

/** Listens and resolves with the port (the one the system chose for port 0); rejects when it cannot. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      const address = server.address();
      resolve(address && typeof address === 'object' ? address.port : port);
    });
  });
}
