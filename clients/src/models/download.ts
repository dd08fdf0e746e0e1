import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { matchingChecksum, type Checksum, type FileDigest } from '@cutout/predict/models';
import { errorMessage } from '@cutout/shared';
import { PartialFile } from './partial-file.js';

/** The server could not be reached at all: offline, DNS, refused. Nothing was written. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** The transfer broke off; the `.partial` file is kept so the next pull resumes. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/** The whole file arrived but is not the expected one; it has been deleted. */
export class ChecksumMismatchError extends Error {
  override name = 'ChecksumMismatchError';
  constructor(
    readonly digest: FileDigest,
    expected: readonly Checksum[],
  ) {
    super(`the download (${digest.size} bytes, sha256 ${digest.sha256}) does not match ${expected.map((c) => `${c.algorithm} ${c.hex}`).join(' or ')}; it was deleted`);
  }
}

export interface Progress {
  received: number;
  /** Bytes in the whole file, when the server says. */
  total: number | undefined;
  /** True when this run continued a partial file. */
  resumed: boolean;
}

export interface DownloadOptions {
  url: string;
  /** The final path; `<target>.partial` while it downloads. */
  target: string;
  checksums: readonly Checksum[];
  onProgress?: (progress: Progress) => void;
  /** How long to wait for a connection and for the response headers. */
  connectTimeoutMs?: number;
  /** Longest silence while the body arrives. */
  bodyTimeoutMs?: number;
}

const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET_BEFORE_RESPONSE']);

function codeOf(error: unknown): string | undefined {
  let e: unknown = error;
  // undici wraps the socket's error in `cause`, sometimes twice.
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return (error as { code?: string }).code;
}

/** Total size from `Content-Range: bytes a-b/total` or, for a 200, Content-Length. */
function totalOf(status: number, headers: Dispatcher.ResponseData['headers'], offset: number): number | undefined {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const range = header('content-range');
  const fromRange = range ? /\/(\d+)$/.exec(range)?.[1] : undefined;
  if (fromRange) return Number(fromRange);
  const length = header('content-length');
  if (length === undefined) return undefined;
  return Number(length) + (status === 206 ? offset : 0);
}

async function appendBody(body: Dispatcher.ResponseData['body'], file: PartialFile, onChunk: (n: number) => void): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer>) {
    await file.write(chunk);
    onChunk(chunk.length);
  }
}

/**
 * Downloads `url` into `<target>.partial`, resuming with an HTTP Range request when a partial file is
 * there, and renames it to `target` only after its checksum matches one of `checksums`. A mismatch
 * deletes the partial file; a broken transfer keeps it. The partial file is only ever written
 * through a handle created for it (PartialFile): a link planted at its path is removed, never
 * written through.
 */
export async function downloadModel(options: DownloadOptions): Promise<FileDigest> {
  const partial = `${options.target}.partial`;
  const offset = await PartialFile.resumableSize(partial);
  const dispatcher = new Agent({ connectTimeout: options.connectTimeoutMs ?? 15_000, headersTimeout: options.connectTimeoutMs ?? 15_000, bodyTimeout: options.bodyTimeoutMs ?? 60_000 }).compose(
    // GitHub's release URLs answer with a redirect to their storage host.
    interceptors.redirect({ maxRedirections: 5 }),
  );
  try {
    let response: Dispatcher.ResponseData;
    try {
      response = await request(options.url, { dispatcher, headers: offset > 0 ? { range: `bytes=${offset}-` } : {} });
    } catch (error) {
      const code = codeOf(error);
      if (offset > 0 && !UNREACHABLE.has(code ?? '')) throw new InterruptedError(`the download stopped (${code ?? String(error)}); run the same command again to resume`);
      throw new UnreachableError(`cannot reach ${new URL(options.url).host} (${code ?? errorMessage(error)})`);
    }
    const file = await receive(response, options, partial, offset);
    const digest = await file.digest().catch(async (error: unknown) => {
      await file.close();
      throw error;
    });
    if (!matchingChecksum(digest, options.checksums)) {
      await file.discard();
      throw new ChecksumMismatchError(digest, options.checksums);
    }
    await file.keepAs(options.target);
    return digest;
  } finally {
    await dispatcher.close();
  }
}

/** The response's body in the partial file (continued after `offset` on a 206, from 0 on a 200); the file is left open for its checksum. */
async function receive(response: Dispatcher.ResponseData, options: DownloadOptions, partial: string, offset: number): Promise<PartialFile> {
  const { statusCode } = response;
  // 416: the partial file already holds everything; only its checksum is left to check.
  if (statusCode === 416 && offset > 0) {
    await response.body.dump();
    return PartialFile.reopen(partial, offset);
  }
  if (statusCode !== 200 && statusCode !== 206) {
    await response.body.dump();
    throw new UnreachableError(`${options.url} answered HTTP ${statusCode}`);
  }
  // A server that ignores Range answers 200 with the whole file: start again from byte 0.
  const resumed = statusCode === 206 && offset > 0;
  const total = totalOf(statusCode, response.headers, offset);
  const file = resumed ? await PartialFile.reopen(partial, offset) : await PartialFile.create(partial);
  let received = resumed ? offset : 0;
  options.onProgress?.({ received, total, resumed });
  try {
    await appendBody(response.body, file, (n) => {
      received += n;
      options.onProgress?.({ received, total, resumed });
    });
  } catch (error) {
    await file.close();
    throw new InterruptedError(`the download stopped after ${received} bytes (${codeOf(error) ?? String(error)}); run the same command again to resume`);
  }
  if (total !== undefined && received < total) {
    await file.close();
    throw new InterruptedError(`the download stopped after ${received} of ${total} bytes; run the same command again to resume`);
  }
  return file;
}
