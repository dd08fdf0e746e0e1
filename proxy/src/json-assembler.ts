import { AppError } from '@cutout/shared';
import { inMiB } from './sizes.js';

/** Where a value sits in the body: object keys and array indexes from the root. */
export type JsonPath = ReadonlyArray<string | number>;

/** One token of stream-json's parser with every value streamed in pieces (packValues: false). */
export interface JsonToken {
  name: string;
  value?: unknown;
}

/** An image string that ran past its limit while it streamed: its text was dropped, not kept. */
export class OversizedImage {
  constructor(readonly chars: number) {}
}

export interface AssemblerRules {
  /** True where a string is an image: held up to `maxImageChars` characters, past it an OversizedImage. */
  isImage(path: JsonPath): boolean;
  maxImageChars: number;
  /** The array of images or entries: one item past `max` refuses the body there and then. */
  list: { path: JsonPath; max: number; tooMany: () => AppError };
}

/** Everything but the images (options, keys, structure) is small; this much is plenty. */
const MAX_OTHER_CHARS = 1024 * 1024;
/** What each value, key or container counts against MAX_OTHER_CHARS besides its text: its object costs more than its characters. */
const STRUCTURE_COST = 16;
const MAX_DEPTH = 32;
const FIRST_IMAGE_BUFFER = 64 * 1024;

interface Frame {
  container: Record<string, unknown> | unknown[];
  /** The key a value in an object goes to, once its key has been read. */
  key: string | null;
  /** True for the listed array (images, entries), whose length is held to its max. */
  listed: boolean;
}

/** The text of one image as it streams, in a growing buffer: joining 100 000 pieces at the end would stall the loop. */
class ImageText {
  #buffer = Buffer.allocUnsafe(FIRST_IMAGE_BUFFER);
  #bytes = 0;
  #chars = 0;
  #ascii = true;
  #dropped = false;

  constructor(private readonly maxChars: number) {}

  add(piece: string): void {
    this.#chars += piece.length;
    if (this.#dropped) return;
    if (this.#chars > this.maxChars) {
      this.#dropped = true;
      this.#buffer = Buffer.alloc(0);
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit; base64 takes one, which is what the
    // written count tells apart.
    const room = this.#bytes + piece.length * 3;
    if (room > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(room, this.#buffer.length * 2));
      this.#buffer.copy(grown, 0, 0, this.#bytes);
      this.#buffer = grown;
    }
    const written = this.#buffer.write(piece, this.#bytes, 'utf8');
    if (written !== piece.length) this.#ascii = false;
    this.#bytes += written;
  }

  value(): string | OversizedImage {
    if (this.#dropped) return new OversizedImage(this.#chars);
    return this.#buffer.toString(this.#ascii ? 'latin1' : 'utf8', 0, this.#bytes);
  }
}

function invalidShape(detail: string): AppError {
  return new AppError(400, 'INVALID_REQUEST', `${detail}; see the README for the body this call takes`);
}

/**
 * Builds the body's value from stream-json's tokens as they arrive, as JSON.parse would build
 * it, except that image strings are held as they stream and never past their limit, the listed
 * array is counted as it grows, and everything else is held to 1 MiB and 32 levels: no body,
 * however large, makes it hold more than the images it is allowed.
 */
export class JsonAssembler {
  readonly #rules: AssemblerRules;
  readonly #stack: Frame[] = [];
  #root: unknown = undefined;
  #done = false;
  #other = 0;
  /** The key, string or number being read, piece by piece. */
  #text: string[] | ImageText | null = null;

  constructor(rules: AssemblerRules) {
    this.#rules = rules;
  }

  /** The body's value once its last token has arrived. */
  get value(): unknown {
    if (!this.#done) throw invalidShape('the body ended inside a value');
    return this.#root;
  }

  push(token: JsonToken): void {
    switch (token.name) {
      case 'startObject':
        return this.#open({});
      case 'startArray':
        return this.#open([]);
      case 'endObject':
      case 'endArray':
        return this.#place(this.#stack.pop()!.container);
      case 'startKey':
        return this.#startText(false, []);
      case 'startString':
        return this.#startText(true, this.#rules.isImage(this.#pathOfNext()) ? new ImageText(this.#rules.maxImageChars) : []);
      case 'startNumber':
        return this.#startText(true, []);
      case 'stringChunk':
      case 'numberChunk':
        return this.#addText(token.value as string);
      case 'endKey':
        this.#top().key = this.#endText() as string;
        return;
      case 'endString':
        return this.#place(this.#endText());
      case 'endNumber':
        return this.#place(Number(this.#endText()));
      case 'trueValue':
      case 'falseValue':
      case 'nullValue':
        this.#count(STRUCTURE_COST);
        return this.#place(token.value);
      default:
        throw invalidShape(`unexpected JSON token ${token.name}`);
    }
  }

  #top(): Frame {
    return this.#stack[this.#stack.length - 1]!;
  }

  /** The path the next value will have. */
  #pathOfNext(): JsonPath {
    return this.#stack.map((f) => (Array.isArray(f.container) ? f.container.length : f.key!));
  }

  #count(chars: number): void {
    this.#other += chars;
    if (this.#other > MAX_OTHER_CHARS) {
      throw new AppError(413, 'BODY_TOO_LARGE', `the body holds more than ${inMiB(MAX_OTHER_CHARS)} besides its images; send the images with only the options this call takes`);
    }
  }

  /** A value begins: one more item of the listed array is refused as soon as it starts. */
  #begin(): void {
    const top = this.#stack[this.#stack.length - 1];
    if (top?.listed && (top.container as unknown[]).length >= this.#rules.list.max) throw this.#rules.list.tooMany();
  }

  #open(container: Record<string, unknown> | unknown[]): void {
    this.#begin();
    this.#count(STRUCTURE_COST);
    if (this.#stack.length >= MAX_DEPTH) throw invalidShape(`the body is nested more than ${MAX_DEPTH} levels deep`);
    const listed = Array.isArray(container) && samePath(this.#pathOfNext(), this.#rules.list.path);
    this.#stack.push({ container, key: null, listed });
  }

  /** A key, string or number begins; a string or number is a value, a key is not. */
  #startText(isValue: boolean, text: string[] | ImageText): void {
    if (isValue) this.#begin();
    this.#count(STRUCTURE_COST);
    this.#text = text;
  }

  #addText(piece: string): void {
    if (this.#text instanceof ImageText) return this.#text.add(piece);
    this.#count(piece.length);
    this.#text!.push(piece);
  }

  #endText(): string | OversizedImage {
    const text = this.#text!;
    this.#text = null;
    return text instanceof ImageText ? text.value() : text.join('');
  }

  #place(value: unknown): void {
    if (this.#stack.length === 0) {
      this.#root = value;
      this.#done = true;
      return;
    }
    const top = this.#top();
    if (Array.isArray(top.container)) {
      top.container.push(value);
      return;
    }
    // As JSON.parse does: "__proto__" becomes an own property, not the object's prototype.
    Object.defineProperty(top.container, top.key!, { value, writable: true, enumerable: true, configurable: true });
    top.key = null;
  }
}

function samePath(a: JsonPath, b: JsonPath): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
