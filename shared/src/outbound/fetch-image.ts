import { request } from 'undici';
import { AppError } from '../errors.js';
import { errorMessage } from '../error-message.js';
import { pinnedAgent } from './pinned-agent.js';
import { checkFetchUrl, type Lookup, type OutboundTarget } from './url-guard.js';

export interface FetchImageOptions {
  /** FETCH_ALLOW_HOSTS: hosts that may be reached whatever address they resolve to. */
  allowHosts: ReadonlySet<string>;
  /** MAX_IMAGE_BYTES: reading stops, and the fetch is refused, one byte past it. */
  maxBytes: number;
  /** The refusal for an image over maxBytes (the upload's own, so both read the same). */
  tooLarge: (bytes?: number) => AppError;
  /** FETCH_TIMEOUT_MS: the whole fetch, every redirect, name lookup and the last byte included. */
  timeoutMs: number;
  /** Aborts the fetch early, e.g. when the client has gone. */
  signal?: AbortSignal;
  lookup?: Lookup;
  /** Who we are, in the User-Agent. */
  userAgent?: string;
}

/** Redirects followed, each one checked like the URL itself; rembg's client (aiohttp) follows up to 10. */
export const MAX_FETCH_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function fetchFailed(message: string): AppError {
  return new AppError(422, 'FETCH_FAILED', message);
}

/**
 * GETs an image from a URL a client chose (rembg's `GET /api/remove?url=`), under the rules of
 * callback URLs: every hop is checked (public unicast addresses only, unless the host is in
 * FETCH_ALLOW_HOSTS) and connected to at the address that was checked; at most
 * MAX_FETCH_REDIRECTS redirects; the whole fetch within timeoutMs; at most maxBytes read, counted
 * as they arrive. Returns the body's bytes; what they are is judged by the caller from the bytes,
 * never from the answer's Content-Type. Throws 400 FETCH_URL_FORBIDDEN, 422 FETCH_FAILED, or tooLarge().
 */
export async function fetchImage(raw: string, options: FetchImageOptions): Promise<Buffer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  let url = raw;
  try {
    for (let hop = 0; ; hop++) {
      const target = await checkFetchUrl(url, options.allowHosts, options.lookup, signal);
      const answer = await getOnce(target, options, signal);
      if (answer.kind === 'bytes') return answer.bytes;
      if (hop >= MAX_FETCH_REDIRECTS) throw fetchFailed(`${target.url.origin} redirected more than ${MAX_FETCH_REDIRECTS} times; send the URL of the image itself`);
      url = new URL(answer.location, target.url).href;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (deadline.aborted) throw fetchFailed(`the image at the URL did not arrive within ${options.timeoutMs} ms (FETCH_TIMEOUT_MS); use a faster host, or upload the file with POST /api/remove`);
    if (options.signal?.aborted) throw fetchFailed('the fetch was stopped: the client went away');
    throw fetchFailed(`the URL could not be fetched (${errorMessage(error).slice(0, 200)}); check that it is reachable from this server`);
  }
}

type Answer = { kind: 'bytes'; bytes: Buffer } | { kind: 'redirect'; location: string };

/** One GET to the checked address: the body's bytes (2xx), or where a redirect points. */
async function getOnce(target: OutboundTarget, options: FetchImageOptions, signal: AbortSignal): Promise<Answer> {
  const agent = pinnedAgent(target);
  try {
    const res = await request(target.url, {
      method: 'GET',
      dispatcher: agent,
      // The bytes as they are: a compressed body would have to be inflated past the size limit first.
      headers: { accept: 'image/png, image/jpeg, image/webp, image/*;q=0.8', 'accept-encoding': 'identity', 'user-agent': options.userAgent ?? 'cutout-fetch' },
      signal,
    });
    if (REDIRECTS.has(res.statusCode)) {
      await res.body.dump();
      const location = res.headers.location;
      if (typeof location !== 'string' || location === '') throw fetchFailed(`${target.url.origin} answered ${res.statusCode} without a Location`);
      return { kind: 'redirect', location };
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      await res.body.dump();
      throw fetchFailed(`the URL answered ${res.statusCode}; send a URL that answers 200 with the image`);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared > options.maxBytes) {
      res.body.destroy();
      throw options.tooLarge(declared);
    }
    return { kind: 'bytes', bytes: await readAtMost(res.body, options) };
  } finally {
    // Everything needed has been read (or given up on): drop the connection rather than wait on it.
    agent.destroy().catch(() => undefined);
  }
}

/** The body, counted as it streams: one byte past the limit and the connection is dropped. */
async function readAtMost(body: AsyncIterable<Buffer> & { destroy(): unknown }, options: FetchImageOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > options.maxBytes) {
      body.destroy();
      throw options.tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
