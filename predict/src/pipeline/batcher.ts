import ort from 'onnxruntime-node';
import type { LoadedModel } from '../model/model-loader.js';

/** What the batcher needs of a loaded model. `supportsBatching` is read when the loader provides it. */
export type BatchableModel = Pick<LoadedModel, 'session' | 'inputName' | 'outputName' | 'inputShape'> & {
  readonly supportsBatching?: boolean;
};

export interface BatcherOptions {
  /** Most items in one onnxruntime run; 1 turns batching off (every item runs on its own, at once). */
  maxBatch: number;
  /** How long the first item of a batch may wait for company; 0 = an item never waits while the model is idle. */
  maxDelayMs: number;
  /**
   * Batched runs at a time. onnxruntime-node runs a session on the main thread (after a setImmediate)
   * with all cores, so a second run in flight cannot overlap the first; it would only split batches.
   */
  maxRunsInFlight?: number;
}

/** One item's share of a run: its slice of the model's first output. */
export interface InferenceResult {
  /** The first output for this item alone, shaped `dims`. */
  readonly data: Float32Array;
  /** The output's dims with the batch dimension 1 (as the model gave them when the item ran alone). */
  readonly dims: readonly number[];
  /** How many items ran in the same onnxruntime call. */
  readonly batchSize: number;
}

/** Thrown at items still waiting when close() is called, and at run() after it. */
export class BatcherClosedError extends Error {
  constructor() {
    super('the inference batcher is closed (predict is shutting down); retry on another predict server');
    this.name = 'BatcherClosedError';
  }
}

/** True when the model's first input leaves the batch dimension open (a name, or a negative size). */
export function supportsBatching(model: BatchableModel): boolean {
  if (model.supportsBatching !== undefined) return model.supportsBatching;
  const first = model.inputShape[0];
  return typeof first === 'string' || (typeof first === 'number' && first < 0);
}

function checkItem(data: Float32Array, dims: readonly number[]): void {
  const size = dims.reduce((product, dim) => product * dim, 1);
  if (dims.length < 2 || dims[0] !== 1 || data.length !== size) {
    throw new TypeError(`an inference item must be one image: dims [1, ...] matching its ${data.length} values, got [${dims.join(', ')}]`);
  }
}

function firstOutput(outputs: ort.InferenceSession.ReturnType, model: BatchableModel): ort.Tensor {
  const output = outputs[model.outputName];
  if (!output || output.type !== 'float32' || output.dims.length < 2) {
    throw new Error(`model output ${model.outputName} is not a float32 tensor with at least 2 dimensions`);
  }
  return output;
}

/** One item through the model in a call of its own: the behaviour with batching off. */
export async function runAlone(model: BatchableModel, data: Float32Array, dims: readonly number[]): Promise<InferenceResult> {
  checkItem(data, dims);
  const outputs = await model.session.run({ [model.inputName]: new ort.Tensor('float32', data, dims) }, [model.outputName]);
  const output = firstOutput(outputs, model);
  return { data: output.data as Float32Array, dims: output.dims, batchSize: 1 };
}

/**
 * Items whose dims are equal, stacked along dimension 0 into `buffer` (room for at least all of them)
 * for one call; the first output is split back per item.
 */
async function runStacked(model: BatchableModel, items: readonly { data: Float32Array; dims: readonly number[] }[], buffer: Float32Array): Promise<InferenceResult[]> {
  const [first] = items;
  if (!first) return [];
  const n = items.length;
  const per = first.data.length;
  const stacked = buffer.subarray(0, n * per);
  items.forEach((item, i) => stacked.set(item.data, i * per));
  const outputs = await model.session.run({ [model.inputName]: new ort.Tensor('float32', stacked, [n, ...first.dims.slice(1)]) }, [model.outputName]);
  const output = firstOutput(outputs, model);
  if (output.dims[0] !== n) {
    throw new Error(`model output ${model.outputName} has dims [${output.dims.join(', ')}] for a batch of ${n}; its batch dimension is not the first`);
  }
  const values = output.data as Float32Array;
  const share = values.length / n;
  const dims = [1, ...output.dims.slice(1)];
  return items.map((_, i) => ({ data: values.subarray(i * share, (i + 1) * share), dims, batchSize: n }));
}

interface Waiting {
  readonly data: Float32Array;
  readonly dims: readonly number[];
  /** Items batch together only when their dims are equal. */
  readonly key: string;
  readonly arrivedAt: number;
  resolve(result: InferenceResult): void;
  reject(error: unknown): void;
}

/**
 * Gathers concurrent inference items of one model into shared onnxruntime runs. A lone item runs at
 * once; items arriving while a run is busy queue and go together in the next run, up to maxBatch of
 * equal dims; maxDelayMs > 0 also lets the first item of a batch wait that long for company.
 * A failed run rejects exactly the items it carried.
 */
export class InferenceBatcher {
  /** The batch limit in force: 1 when the options turn batching off or the model's batch dimension is fixed. */
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxRunsInFlight: number;
  readonly modelSupportsBatching: boolean;
  readonly #model: BatchableModel;
  readonly #requestedMaxBatch: number;
  readonly #waiting: Waiting[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #running = 0;
  #dispatchQueued = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /**
   * The stacking buffer of the last run, kept for the next: a fresh multi-megabyte array per run costs
   * more in allocation and page faults than the copy into it (measured at 1024×1024).
   */
  #spare: Float32Array | undefined;

  constructor(model: BatchableModel, options: BatcherOptions) {
    const { maxBatch, maxDelayMs, maxRunsInFlight = 1 } = options;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be an integer ≥ 1, got ${maxBatch}`);
    if (!Number.isFinite(maxDelayMs) || maxDelayMs < 0) throw new RangeError(`maxDelayMs must be ≥ 0, got ${maxDelayMs}`);
    if (!Number.isInteger(maxRunsInFlight) || maxRunsInFlight < 1) throw new RangeError(`maxRunsInFlight must be an integer ≥ 1, got ${maxRunsInFlight}`);
    this.#model = model;
    this.#requestedMaxBatch = maxBatch;
    this.modelSupportsBatching = supportsBatching(model);
    this.maxBatch = this.modelSupportsBatching ? maxBatch : 1;
    this.maxDelayMs = maxDelayMs;
    this.maxRunsInFlight = maxRunsInFlight;
  }

  /** Runs one image's input tensor (dims [1, ...]) through the model, alone or in a batch. */
  run(data: Float32Array, dims: readonly number[]): Promise<InferenceResult> {
    if (this.#closed) return Promise.reject(new BatcherClosedError());
    try {
      checkItem(data, dims);
    } catch (error) {
      return Promise.reject(error);
    }
    // Batching off keeps the old behaviour: every request calls the session itself, straight away.
    if (this.maxBatch === 1) return this.#track(runAlone(this.#model, data, dims));
    return new Promise((resolve, reject) => {
      this.#waiting.push({ data, dims, key: dims.join(','), arrivedAt: performance.now(), resolve, reject });
      this.#queueDispatch();
    });
  }

  /** The batching part of GET /metadata. */
  describe(): Record<string, unknown> {
    return describeBatching(this.#requestedMaxBatch, this.maxDelayMs, this.modelSupportsBatching, this.maxRunsInFlight);
  }

  /** Rejects every item still waiting, refuses new ones, and resolves once the runs in flight are over. Safe to call twice. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#spare = undefined;
      const error = new BatcherClosedError();
      for (const item of this.#waiting.splice(0)) item.reject(error);
    }
    await Promise.allSettled([...this.#inFlight]);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Dispatch waits for the event loop's check phase: a run blocks the loop, and the I/O that finished
   * meanwhile (decodes, new requests) is handled first, so its items join the next batch.
   */
  #queueDispatch(): void {
    if (this.#dispatchQueued || this.#closed) return;
    this.#dispatchQueued = true;
    setImmediate(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (!this.#closed && this.#running < this.maxRunsInFlight) {
      const first = this.#waiting[0];
      if (!first) return;
      const wait = first.arrivedAt + this.maxDelayMs - performance.now();
      if (wait > 0 && this.#countLike(first.key) < this.maxBatch) {
        this.#timer = setTimeout(() => this.#dispatch(), wait);
        return;
      }
      void this.#track(this.#execute(this.#take(first.key)));
    }
  }

  #countLike(key: string): number {
    let count = 0;
    for (const item of this.#waiting) if (item.key === key && ++count >= this.maxBatch) break;
    return count;
  }

  /** Removes and returns the oldest items with this key, at most maxBatch, keeping the others in order. */
  #take(key: string): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const item of this.#waiting) (item.key === key && batch.length < this.maxBatch ? batch : rest).push(item);
    this.#waiting.splice(0, this.#waiting.length, ...rest);
    return batch;
  }

  async #execute(batch: Waiting[]): Promise<void> {
    this.#running++;
    const first = batch[0]!;
    // A batch of one needs no stacking: its own tensor goes in as it is.
    const buffer = batch.length > 1 ? this.#stackingBuffer(first.data.length) : undefined;
    try {
      const results = buffer ? await runStacked(this.#model, batch, buffer) : [await runAlone(this.#model, first.data, first.dims)];
      batch.forEach((item, i) => item.resolve(results[i]!));
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      // onnxruntime is done with the input once the run has settled, so the buffer can be reused.
      if (buffer && !this.#closed) this.#spare = buffer;
      this.#running--;
      this.#queueDispatch();
    }
  }

  /** Room for a full batch of items of this size; the spare one when it fits, else a new one. */
  #stackingBuffer(itemLength: number): Float32Array {
    const length = itemLength * this.maxBatch;
    const spare = this.#spare;
    this.#spare = undefined;
    return spare?.length === length ? spare : new Float32Array(length);
  }
}

/**
 * The batcher's part of GET /metadata's batching block: the settings and the limit in force
 * (`batch_size` is the most images one onnxruntime run takes).
 */
export function describeBatching(maxBatch: number, maxDelayMs: number, modelSupportsBatching: boolean, maxRunsInFlight = 1): Record<string, unknown> {
  const effective = modelSupportsBatching ? maxBatch : 1;
  return {
    batch_size: effective,
    max_batch: maxBatch,
    max_delay_ms: maxDelayMs,
    runs_in_flight: effective > 1 ? maxRunsInFlight : 'one per request',
  };
}
