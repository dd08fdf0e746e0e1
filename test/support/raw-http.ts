import { request } from 'node:http';

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
