import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in predict server for tests: speaks predict's raw protocol and can be told how to
 * answer, to inject the faults batch must survive. Not used by the service itself.
 */
/**
 * 'garbage': 200 image/png with a body that is no image; 'reset': the request is read, then the
 * connection is dropped without an answer (as a predict that crashes on the image); 'trickle': a
 * 200 whose body arrives a byte every 100 ms and never ends.
 */
export type FakePredictMode = 'png' | 'reject' | 'fail' | 'hang' | 'loading' | 'garbage' | 'reset' | 'trickle';

export interface RecordedRequest {
  method: string;
  path: string;
  jobId: string | undefined;
  requestId: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export interface FakePredictOptions {
  /** The PNG bytes a 'png' answer carries. */
  png: Buffer;
  mode?: FakePredictMode;
  /** Listen on this port (to bring a server up where batch already expects one). Default: any free port. */
  port?: number;
  /** Sent as the Server-Timing header of 'png' answers. Default: none. */
  serverTiming?: string;
}

export class FakePredict {
  mode: FakePredictMode;
  /** How the next /predict calls answer, one entry each, before `mode` applies again. */
  readonly next: FakePredictMode[] = [];
  readonly requests: RecordedRequest[] = [];
  /** /predict calls being answered right now, and the most there ever were at once. */
  inFlight = 0;
  maxInFlight = 0;
  #held = false;
  #waiting: Array<() => void> = [];
  #watchers: Array<() => void> = [];
  #server: Server;
  #url = '';

  constructor(private readonly options: FakePredictOptions) {
    this.mode = options.mode ?? 'png';
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(this.options.port ?? 0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Holds every /predict answer until release(): lets a test see calls pile up. */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    for (const go of this.#waiting.splice(0)) go();
  }

  /** Resolves once `count` /predict calls are in flight together. */
  untilInFlight(count: number): Promise<void> {
    return this.#until(() => this.inFlight >= count);
  }

  /** Resolves once `count` /predict calls have arrived. */
  untilRequests(count: number): Promise<void> {
    return this.#until(() => this.requests.filter((r) => r.path === '/predict').length >= count);
  }

  #until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        this.#watchers = this.#watchers.filter((w) => w !== check);
        resolve();
      };
      this.#watchers.push(check);
    });
  }

  #notify(): void {
    for (const watcher of [...this.#watchers]) watcher();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const path = req.url ?? '/';
    this.requests.push({
      method: req.method ?? '',
      path,
      jobId: header('x-job-id'),
      requestId: header('x-request-id'),
      contentType: header('content-type'),
      body: Buffer.concat(chunks),
    });
    if (path === '/health') return this.#answerHealth(res);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    // 'close' also fires when the caller gives up (timeout, abort) on a call that never got an answer.
    res.once('close', () => {
      this.inFlight--;
      this.#notify();
    });
    this.#notify();
    const mode = this.next.shift() ?? this.mode;
    if (this.#held) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#answerPredict(res, mode);
  }

  #answerHealth(res: ServerResponse): void {
    const ready = this.mode !== 'loading';
    json(res, ready ? 200 : 503, { health: ready ? 'ok' : 'loading' });
  }

  #answerPredict(res: ServerResponse, mode: FakePredictMode): void {
    if (mode === 'hang' || res.destroyed) return; // hang never answers; close() drops the socket
    switch (mode) {
      case 'png':
        res.writeHead(200, {
          'content-type': 'image/png',
          'content-length': this.options.png.length,
          ...(this.options.serverTiming === undefined ? {} : { 'server-timing': this.options.serverTiming }),
        });
        res.end(this.options.png);
        return;
      case 'reject':
        return json(res, 422, { status: 'ng', error: { code: 'IMAGE_DECODE_FAILED', message: 'the image is truncated; upload the whole file' } });
      case 'loading':
        return json(res, 503, { status: 'ng', error: { code: 'MODEL_NOT_READY', message: 'the model is still loading' } });
      case 'fail':
        return json(res, 500, { status: 'ng', error: { code: 'INTERNAL', message: 'onnxruntime session crashed' } });
      case 'garbage':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 5 });
        res.end('hello');
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 10_000_000 });
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('x')), 100);
        res.once('close', () => clearInterval(timer));
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startFakePredict(options: FakePredictOptions): Promise<FakePredict> {
  return new FakePredict(options).listen();
}
