import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawRequest {
  method?: string;
  /** Sent exactly as given: no Content-Type is added, and Content-Length only when not chunked. */
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body in pieces with chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP request with full control over the headers (fetch adds a Content-Type and refuses a
 * Content-Length that does not match the body). Resolves with the answer even when the server
 * answers before reading the whole body.
 */
export function rawRequest(url: string, init: RawRequest = {}): Promise<RawResponse> {
  const body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body;
  const headers: Record<string, string> = { ...init.headers };
  const hasLength = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
  if (body && !init.chunked && !hasLength) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: init.method ?? 'POST', headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A server that answers early may close while the body is still going out; the answer counts.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    req.on('close', () => {
      if (!answered) reject(new Error(`${init.method ?? 'POST'} ${url.slice(0, 80)}: the connection closed without an answer`));
    });
    if (body && init.chunked) {
      for (let offset = 0; offset < body.length; offset += 256 * 1024) req.write(body.subarray(offset, offset + 256 * 1024));
    } else if (body) {
      req.write(body);
    }
    req.end();
  });
}

/** A client that read an answer's status line and then stopped reading. */
export interface StalledClient {
  /** The status line, once it arrived. */
  status: Promise<string>;
  /** Reads again: resolves once the connection has ended, with the body bytes received and the Content-Length promised (-1 for none). */
  drain(): Promise<{ received: number; length: number }>;
}

/**
 * GET `path` on `url`'s host, read the status line and then nothing: the kernel's buffers fill
 * and the server's writes back up (a write deadline's case). A paused socket does not see the
 * server close it either: drain() reads on to find out how the answer ended.
 */
export function statusLineOnly(url: string, path: string): StalledClient {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  let head = Buffer.alloc(0);
  let bodyStart = -1;
  let bytes = 0;
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const status = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bodyStart >= 0) return;
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      bodyStart = end + 4;
      socket.pause();
      resolve(head.subarray(0, head.indexOf('\r\n')).toString('latin1'));
    });
  });
  return {
    status,
    async drain() {
      socket.resume();
      await ended;
      const length = Number(/content-length: (\d+)/i.exec(head.subarray(0, bodyStart).toString('latin1'))?.[1] ?? -1);
      return { received: bytes - bodyStart, length };
    },
  };
}
