import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';

const VARIANTS = 40;

/**
 * `count` small PNGs (64×64: a coloured square on a plain background) as base64. Colours and the
 * square's place vary, so outputs differ; they repeat every 40 images, which is fine because each
 * upload is its own job with its own id.
 */
export async function smallImages(count: number): Promise<string[]> {
  const variants = await Promise.all(
    Array.from({ length: Math.min(count, VARIANTS) }, async (_, i) => {
      const square = await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: (i * 53) % 256, g: 40, b: 200 - i } } })
        .png()
        .toBuffer();
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 230, g: (i * 97) % 256, b: 60 + i } } })
        .composite([{ input: square, left: 4 + (i % 8) * 4, top: 4 + Math.floor(i / 8) * 6 }])
        .png()
        .toBuffer();
      return png.toString('base64');
    }),
  );
  return Array.from({ length: count }, (_, i) => variants[i % variants.length]!);
}

/**
 * A JPEG that takes predict seconds (5000×5000 of smoothed noise: slow to decode, resize and
 * above all to encode as PNG), yet stays well under the upload limits (about 6 MB).
 */
export async function slowImage(): Promise<string> {
  const side = 1000;
  const noise = Buffer.alloc(side * side * 3);
  let seed = 12345;
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = seed >> 23;
  }
  const jpeg = await sharp(noise, { raw: { width: side, height: side, channels: 3 } })
    .resize(5000, 5000, { kernel: 'cubic' })
    .jpeg({ quality: 70 })
    .toBuffer();
  return jpeg.toString('base64');
}

export interface LoadOptions {
  proxyUrl: string;
  /** One base64 image per job to submit. */
  images: readonly string[];
  /** Uploads in flight at once. */
  concurrency: number;
  /** Spread the uploads out at this many per second (default: as fast as the proxy takes them). */
  ratePerSecond?: number;
  /** Longest one upload may wait for an answer; the proxy must answer (even 503) well within it. */
  requestTimeoutMs?: number;
  /** Sent with every upload (an API key). */
  headers?: Readonly<Record<string, string>>;
}

const MAX_RETRY_AFTER_S = 5;

/** The `error.code` of an error body, or "?" when it has none. */
function errorCodeOf(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : '?';
  } catch {
    return '?';
  }
}

/**
 * Submits every image through POST /start_job like a well-behaved client: a 429 or 503 was not
 * accepted, so it is sent again after Retry-After; only ids answered 200 are tracked.
 */
export class LoadGenerator {
  /** Accepted job ids, in the order they were accepted. */
  readonly ids: string[] = [];
  /** job id → index of its image in `images`. */
  readonly imageOf = new Map<string, number>();
  /** Answers 429/503 (retried). */
  refused = 0;
  /** The same answers by status, and the error code each body carried ("429 QUEUE_FULL" → count). */
  readonly refusals = new Map<string, number>();
  /** Uploads that got no answer (connection error); retried, and their outcome is unknown so not tracked. */
  networkErrors = 0;
  /** Answers no well-behaved client should ever get (a 500, a hang, a 4xx for a good image). */
  readonly problems: string[] = [];
  readonly done: Promise<void>;
  readonly #options: LoadOptions;
  readonly #stop = new AbortController();
  #next = 0;
  readonly #startedAt = Date.now();

  constructor(options: LoadOptions) {
    this.#options = options;
    this.done = Promise.all(Array.from({ length: options.concurrency }, () => this.#worker())).then(() => undefined);
  }

  /** Stops submitting (at the end of a failed test). */
  stop(): void {
    this.#stop.abort();
  }

  /** A pause that ends early (without throwing) when the load is stopped. */
  #pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined);
  }

  async #worker(): Promise<void> {
    const rate = this.#options.ratePerSecond;
    while (!this.#stop.signal.aborted && this.#next < this.#options.images.length) {
      const index = this.#next++;
      if (rate !== undefined) {
        const due = this.#startedAt + (index * 1000) / rate;
        if (due > Date.now()) await this.#pause(due - Date.now());
      }
      await this.#submit(index);
    }
  }

  async #submit(index: number): Promise<void> {
    const body = JSON.stringify({ image: this.#options.images[index] });
    const timeoutMs = this.#options.requestTimeoutMs ?? 10_000;
    while (!this.#stop.signal.aborted) {
      let res: Response;
      try {
        res = await fetch(`${this.#options.proxyUrl}/start_job`, {
          method: 'POST',
          headers: { ...this.#options.headers, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeoutMs)]),
        });
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        if (error instanceof Error && error.name === 'TimeoutError') {
          this.problems.push(`image ${index}: start_job gave no answer within ${timeoutMs} ms`);
          return;
        }
        this.networkErrors += 1;
        await this.#pause(100);
        continue;
      }
      const text = await res.text();
      if (res.status === 200) {
        const id = (JSON.parse(text) as { job_id: string }).job_id;
        this.ids.push(id);
        this.imageOf.set(id, index);
        return;
      }
      if (res.status === 429 || res.status === 503) {
        this.refused += 1;
        const key = `${res.status} ${errorCodeOf(text)}`;
        this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
        const after = Number(res.headers.get('retry-after'));
        if (!(after >= 0)) this.problems.push(`image ${index}: ${res.status} without a usable Retry-After (${res.headers.get('retry-after')})`);
        const seconds = Number.isFinite(after) && after >= 0 ? after : 1;
        // A floor, so a "Retry-After: 0" cannot turn the client into a busy loop.
        await this.#pause(Math.min(Math.max(seconds, 0.1), MAX_RETRY_AFTER_S) * 1000);
        continue;
      }
      this.problems.push(`image ${index}: start_job answered ${res.status}: ${text.slice(0, 200)}`);
      return;
    }
  }
}
