import { request } from 'node:http';
import zlib from 'node:zlib';

/** A piece of a body: text as it is, or `count` copies of one character, made a chunk at a time. */
export type BodyPart = string | { fill: string; count: number };

const CHUNK = 1024 * 1024;
const FIRST_CHUNK_PAUSE_MS = 300;

/** The body's bytes in chunks of at most 1 MiB: hundreds of MiB without holding them. */
export function* bodyChunks(parts: readonly BodyPart[]): Generator<Buffer> {
  for (const part of parts) {
    if (typeof part === 'string') {
      yield Buffer.from(part);
      continue;
    }
    const block = Buffer.alloc(Math.min(CHUNK, part.count), part.fill);
    for (let left = part.count; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
  }
}

export function bodyLength(parts: readonly BodyPart[]): number {
  return parts.reduce((sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : part.count), 0);
}

/** The body compressed with brotli as it is made: hundreds of MiB of repeats become a few hundred bytes. */
export async function brotliOf(parts: readonly BodyPart[]): Promise<Buffer> {
  // Quality 4 with a 16 MiB window: about 500 bytes for 600 MiB of one character, in two seconds
  // (quality 11 gets no smaller and takes a minute).
  const brotli = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 } });
  const out: Buffer[] = [];
  brotli.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = new Promise((resolve, reject) => brotli.on('end', resolve).on('error', reject));
  for (const chunk of bodyChunks(parts)) {
    if (!brotli.write(chunk)) await new Promise((resolve) => brotli.once('drain', resolve));
  }
  brotli.end();
  await ended;
  return Buffer.concat(out);
}

export interface Sent {
  /** The status the server answered, or null when the connection ended without one. */
  status: number | null;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** Body bytes written before the answer came (or the connection went). */
  sent: number;
  /** How the connection failed, when it did (a server that died says ECONNRESET or "socket hang up"). */
  error?: string;
}

export interface SendOptions {
  path: string;
  headers: Record<string, string>;
  parts: readonly BodyPart[] | Buffer;
  /** Declare Content-Length (default) or send the body chunked. */
  chunked?: boolean;
}

/**
 * Sends a body (made as it goes, never held whole) and stops sending as soon as the answer
 * arrives: the server is expected to refuse it early. Resolves with what happened.
 */
export function sendBody(baseUrl: string, options: SendOptions): Promise<Sent> {
  const parts = Buffer.isBuffer(options.parts) ? [options.parts.toString('latin1')] : options.parts;
  const chunks = Buffer.isBuffer(options.parts) ? [options.parts][Symbol.iterator]() : bodyChunks(parts);
  const length = Buffer.isBuffer(options.parts) ? options.parts.length : bodyLength(parts);
  return new Promise((resolve) => {
    let sent = 0;
    let answered = false;
    let settled = false;
    const settle = (value: Sent) => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(value);
    };
    const headers = { ...options.headers, ...(options.chunked ? {} : { 'content-length': String(length) }) };
    const req = request(`${baseUrl}${options.path}`, { method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => settle({ status: res.statusCode ?? null, body, headers: res.headers, sent }));
      res.on('error', (error) => settle({ status: res.statusCode ?? null, body, headers: res.headers, sent, error: error.message }));
    });
    // A server that answers early may close while the body is still going out: the answer still
    // arrives and counts. A connection that closes with no answer at all is what a dead server does.
    let failure: string | undefined;
    req.on('error', (error: NodeJS.ErrnoException) => {
      failure = error.message;
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') settle({ status: null, body: '', headers: {}, sent, error: failure });
    });
    req.on('close', () => {
      if (!answered) settle({ status: null, body: '', headers: {}, sent, error: failure ?? 'closed without an answer' });
    });
    const pump = () => {
      while (!answered && !req.destroyed && failure === undefined) {
        const next = chunks.next();
        if (next.done) return void req.end();
        sent += next.value.length;
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    // The first chunk, then a pause: a server that refuses on the headers answers meanwhile, and
    // the rest is not sent into a connection it is closing (whose reset could lose the answer).
    const first = chunks.next();
    if (first.done) return void req.end();
    sent += first.value.length;
    req.write(first.value);
    setTimeout(pump, FIRST_CHUNK_PAUSE_MS);
  });
}
