import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Request } from 'express';
import type { Logger } from '../logger.js';
import { routeOf, type HttpMetrics } from '../metrics/http-metrics.js';

export interface WriteDeadlineOptions {
  /** Time any response may spend waiting on its client, whatever its size (HTTP_WRITE_TIMEOUT_MS). */
  floorMs: number;
  /** The slowest a client may read: each byte of the response adds 1/minBytesPerSecond s to its time (HTTP_WRITE_MIN_BYTES_PER_S). */
  minBytesPerSecond: number;
  /** Told of each response cut, after its connection was destroyed. */
  onCut: (cut: CutResponse) => void;
  /** How often responses are looked at; default a quarter of floorMs, at most 1 s. */
  checkEveryMs?: number;
}

export interface CutResponse {
  /** The route pattern (`/get_job/:job_id`), or `unmatched`. */
  route: string;
  requestId: string | undefined;
  method: string | undefined;
  path: string;
  /** Bytes the server had written to the connection for this response (headers included). */
  bytes: number;
  /** How long the response waited on its client, and how long it was allowed to. */
  blockedMs: number;
  allowedMs: number;
}

interface Watch {
  req: IncomingMessage;
  socket: Socket;
  /** socket.bytesWritten when the request arrived: what earlier responses on the connection wrote. */
  bytesBefore: number;
  blockedMs: number;
}

const TAG = Symbol('cutout route and request id');
type Tagged = ServerResponse & { [TAG]?: { route: string; requestId: string } };

/**
 * Names the route and request id of a response express does not route (a node:http fast lane),
 * for the cut's metric and log line; express responses are read from req.route and X-Request-Id.
 */
export function tagRoute(res: ServerResponse, route: string, requestId: string): void {
  (res as Tagged)[TAG] = { route, requestId };
}

/**
 * Cuts responses whose client does not read them. A response's clock runs only while bytes it
 * wrote wait in this process for the client (the socket's writable buffer is not empty): never
 * while the server itself is slow to produce them (a long poll, a zip read from Redis), only
 * while the client is. Once that time passes floorMs + bytes / minBytesPerSecond, counted on what
 * the response has written so far, the connection is destroyed and its buffers freed. So a client
 * reading at minBytesPerSecond or faster is never cut, a big answer gets time in proportion to
 * its size, and one that reads only the status line (or trickles) cannot hold a result's
 * megabytes for longer than that. One timer for the whole server; nothing per byte.
 */
export function enforceWriteDeadline(server: Server, options: WriteDeadlineOptions): { readonly watching: number; close(): void } {
  const { floorMs, minBytesPerSecond, onCut } = options;
  if (!(floorMs > 0) || !(minBytesPerSecond > 0)) throw new TypeError(`enforceWriteDeadline: floorMs and minBytesPerSecond must be above 0, got ${floorMs} and ${minBytesPerSecond}`);
  const checkEveryMs = options.checkEveryMs ?? Math.min(1_000, Math.max(10, floorMs / 4));
  const watched = new Map<ServerResponse, Watch>();

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    watched.set(res, { req, socket, bytesBefore: socket.bytesWritten ?? 0, blockedMs: 0 });
    // A response emits 'close' once it has finished (every byte with the kernel) or its
    // connection ended first: either way nothing of it waits here any more.
    res.once('close', () => watched.delete(res));
  };
  // Before the app's own listener, which may write its whole answer at once: the bytes counted
  // from here must be this response's.
  server.prependListener('request', onRequest);

  let last = performance.now();
  const check = () => {
    const now = performance.now();
    const elapsed = now - last;
    last = now;
    for (const [res, watch] of watched) {
      if (watch.socket.destroyed) {
        watched.delete(res);
        continue;
      }
      if (watch.socket.writableLength === 0) continue;
      watch.blockedMs += elapsed;
      const bytes = (watch.socket.bytesWritten ?? 0) - watch.bytesBefore;
      const allowedMs = floorMs + (bytes * 1000) / minBytesPerSecond;
      if (watch.blockedMs <= allowedMs) continue;
      watched.delete(res);
      watch.socket.destroy();
      const tag = (res as Tagged)[TAG];
      onCut({ route: tag?.route ?? routeOf(watch.req as Request), requestId: tag?.requestId ?? headerText(res.getHeader('x-request-id')), method: watch.req.method, path: pathOf(watch.req), bytes, blockedMs: Math.round(watch.blockedMs), allowedMs: Math.round(allowedMs) });
    }
  };
  const timer = setInterval(check, checkEveryMs);
  // The watch never keeps a process alive on its own.
  timer.unref();
  return {
    /** Responses not yet finished or closed. */
    get watching() {
      return watched.size;
    },
    close() {
      clearInterval(timer);
      server.off('request', onRequest);
      watched.clear();
    },
  };
}

function headerText(value: number | string | string[] | undefined): string | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value[0] : String(value);
}

function pathOf(req: IncomingMessage): string {
  const url = (req as Request).originalUrl ?? req.url ?? '';
  return url.length > 200 ? `${url.slice(0, 200)}…` : url;
}

/** A service's onCut: counted in cutout_http_responses_cut_total{service,route} and logged at warn with the request id. */
export function reportCuts(logger: Logger, http: HttpMetrics | undefined): (cut: CutResponse) => void {
  return (cut) => {
    http?.cut(cut.route);
    logger.warn('response cut: the client did not read it in time (HTTP_WRITE_TIMEOUT_MS, HTTP_WRITE_MIN_BYTES_PER_S)', {
      request_id: cut.requestId,
      method: cut.method,
      path: cut.path,
      route: cut.route,
      bytes_out: cut.bytes,
      blocked_ms: cut.blockedMs,
      allowed_ms: cut.allowedMs,
    });
  };
}
