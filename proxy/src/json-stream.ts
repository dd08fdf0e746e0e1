import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import streamJsonParser from 'stream-json/parser.js';
import { AppError, invalidContentEncoding, invalidJson } from '@cutout/shared';
import { admitBody, decodedBody, incompleteBody, type BodyCap, type BodyLimits, type BodyMeter } from './body-source.js';
import { JsonAssembler, type AssemblerRules, type JsonToken } from './json-assembler.js';

export interface JsonStreamOptions {
  limits: BodyLimits;
  /** The most the body may hold decoded, and the 413 past it. */
  cap: BodyCap;
  rules: AssemblerRules;
}

function unsupportedCharset(req: IncomingMessage): AppError | null {
  const charset = /;\s*charset=("?)([^";]*)\1/i.exec(req.headers['content-type'] ?? '')?.[2]?.trim().toLowerCase();
  if (charset === undefined || charset === 'utf-8' || charset === 'utf8') return null;
  return new AppError(415, 'UNSUPPORTED_ENCODING', `charset ${JSON.stringify(charset.slice(0, 40))} is not supported; send the JSON as UTF-8`);
}

/**
 * Reads a JSON body of many images as it arrives, never as one string: stream-json tokenises
 * it piece by piece and the assembler keeps each image's text (up to its limit) and the small
 * rest. The decoded body is counted against `cap` as it inflates, so a small compressed body
 * cannot grow past it; the budget is taken before the first byte. An empty body is `{}`, as
 * express.json gives it.
 */
export function readJsonStream(req: IncomingMessage, res: ServerResponse, options: JsonStreamOptions): Promise<unknown> {
  const charsetError = unsupportedCharset(req);
  if (charsetError) return Promise.reject(charsetError);
  try {
    const meter = admitBody(req, res, options.cap, options.limits.budget);
    return new JsonStreamRead(req, res, options, meter).result;
  } catch (error) {
    return Promise.reject(error);
  }
}

/** One read: the decoded stream into the parser, the tokens into the assembler, every failure to one rejection. */
class JsonStreamRead {
  readonly result: Promise<unknown>;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #meter: BodyMeter;
  readonly #source: Readable;
  readonly #parser = streamJsonParser.asStream({ packValues: false, streamValues: true });
  readonly #assembler: JsonAssembler;
  #decoded = 0;
  #settled = false;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;

  constructor(req: IncomingMessage, res: ServerResponse, options: JsonStreamOptions, meter: BodyMeter) {
    this.#req = req;
    this.#res = res;
    this.#meter = meter;
    this.#assembler = new JsonAssembler(options.rules);
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#source = decodedBody(req);
    this.#listen();
  }

  #listen(): void {
    const source = this.#source;
    const parser = this.#parser;
    source.on('data', (chunk: Buffer) => this.#onChunk(chunk));
    source.once('end', () => {
      if (this.#decoded > 0) return parser.end();
      parser.destroy();
      this.#finish(() => ({}));
    });
    parser.on('data', (token: JsonToken) => {
      if (this.#settled) return;
      try {
        this.#assembler.push(token);
      } catch (error) {
        this.#fail(error);
      }
    });
    parser.on('drain', () => source.resume());
    parser.once('end', () => this.#finish(() => this.#assembler.value));
    parser.on('error', () => this.#fail(invalidJson()));
    if (source !== this.#req) source.on('error', () => this.#fail(invalidContentEncoding(String(this.#req.headers['content-encoding'] ?? ''))));
    this.#req.once('aborted', () => this.#fail(incompleteBody()));
    this.#req.on('error', () => this.#fail(incompleteBody()));
  }

  #onChunk(chunk: Buffer): void {
    if (this.#settled) return;
    this.#decoded += chunk.length;
    try {
      this.#meter.add(chunk.length);
    } catch (error) {
      return this.#fail(error);
    }
    // The parser's tokens are handled as it makes them; it asks for a pause only when the
    // assembler falls behind, which keeps at most a chunk or two in between.
    if (!this.#parser.write(chunk)) this.#source.pause();
  }

  #finish(value: () => unknown): void {
    if (this.#settled) return;
    try {
      const body = value();
      this.#settled = true;
      this.#resolve(body);
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Stops reading at once and rejects. The rest of a body of declared length is read away, so
   * the answer goes out on a connection the client is still sending on; a body of unknown
   * length (chunked) is not: its connection closes after the answer.
   */
  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    const source = this.#source;
    source.removeAllListeners('data');
    if (source !== this.#req) {
      this.#req.unpipe();
      source.on('error', () => undefined);
      source.destroy();
    }
    this.#parser.on('error', () => undefined);
    this.#parser.destroy();
    if (this.#req.headers['content-length'] !== undefined) this.#req.resume();
    else if (!this.#res.headersSent) this.#res.setHeader('Connection', 'close');
    this.#reject(error);
  }
}
