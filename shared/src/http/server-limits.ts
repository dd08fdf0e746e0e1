import type { ServerOptions } from 'node:http';

/**
 * The node:http server options that bound how long a client may take: the whole request within
 * HTTP_REQUEST_TIMEOUT_MS (408 otherwise), the headers within that or 20 s, idle keep-alive
 * connections 5 s. Node checks these every connectionsCheckingInterval (30 s by default, far
 * longer than a short timeout), so that check runs every second here.
 */
export function serverLimits(requestTimeoutMs: number): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(requestTimeoutMs, 20_000),
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
  };
}
