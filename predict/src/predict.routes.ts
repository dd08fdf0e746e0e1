import express, { type Request, type Response, type NextFunction, type Router } from 'express';
import { AppError, JOB_ID_PATTERN, decodeBase64Image, fieldsOf, mediaTypeOf, RAW_IMAGE_TYPES, readImageField, type RequestLocals } from '@cutout/shared';
import { parseOutputOptions, type OutputOptions } from '@cutout/shared/contract';
import { describeModel } from './metadata.js';
import type { LoadedModel } from './model/model-loader.js';
import { removeBackground, type StageTimings } from './pipeline/remove-background.js';
import { describeBatching, supportsBatching, type InferenceBatcher } from './pipeline/batcher.js';
import type { PredictMetrics } from './predict-metrics.js';

export interface PredictRouteDeps {
  /** The model once it is loaded; undefined while it is still loading. */
  model: () => LoadedModel | undefined;
  maxImageBytes: number;
  maxImagePixels: number;
  /** The loaded model's batcher; without one every request runs its own inference at once. */
  batcher?: () => InferenceBatcher | undefined;
  /** zlib level of PNG outputs (OUTPUT_PNG_COMPRESSION); the pipeline's default when absent. */
  pngCompression?: number;
  /** Stage and batch-size histograms; none: not recorded. */
  stageMetrics?: PredictMetrics;
}

const JSON_TYPE = 'application/json';
/** What batch sends is octet-stream; the image types are for people trying predict with curl. */
const RAW_TYPES: ReadonlySet<string> = new Set([...RAW_IMAGE_TYPES, 'application/octet-stream']);
const mediaType = mediaTypeOf;

/** A JSON body carries the image as base64 (4 bytes per 3) plus a little JSON around it. */
export function jsonBodyLimit(maxImageBytes: number): number {
  return Math.ceil(maxImageBytes / 3) * 4 + 64 * 1024;
}

const STAGES = ['decode', 'preprocess', 'inference', 'postprocess', 'encode'] as const;

/** The stages in ms, then the size of the onnxruntime batch the inference ran in. */
export function serverTiming(timings: StageTimings): string {
  const stages = STAGES.map((stage) => `${stage};dur=${timings[stage]}`);
  return [...stages, `batch;desc="${timings.batchSize}"`].join(', ');
}

/** A JSON body's image and options: `{"image": "<base64>", ...options}`. */
function fromJson(body: unknown, query: Record<string, unknown>): { bytes: Buffer; options: OutputOptions } {
  const { image, ...rest } = fieldsOf(body);
  return { bytes: decodeBase64Image(readImageField(image)), options: parseOutputOptions({ ...query, ...rest }) };
}

function imageFromRaw(body: unknown): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0) {
    throw new AppError(400, 'EMPTY_IMAGE', 'the request body is empty; send the bytes of a PNG, JPEG or WebP file');
  }
  return body;
}

/** Refuses what cannot work before the body is read: an odd content type, or no model yet. */
function gate(model: PredictRouteDeps['model']) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const type = mediaType(req);
    if (type !== JSON_TYPE && !RAW_TYPES.has(type)) {
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type "${type}" is not accepted; send application/json {"image": "<base64>"} or the raw image as image/png, image/jpeg, image/webp or application/octet-stream`);
    }
    if (!model()) throw new AppError(503, 'MODEL_NOT_READY', 'the model is still loading; try again in a moment (GET /health answers 200 once it is ready)');
    next();
  };
}

/** GET /health, GET /metadata and POST /predict (JSON or raw image body). */
export function predictRoutes(deps: PredictRouteDeps): Router {
  const router = express.Router();
  const limits = { maxImageBytes: deps.maxImageBytes, maxImagePixels: deps.maxImagePixels };
  const encoding = { pngCompression: deps.pngCompression };

  router.get('/health', (_req, res) => {
    if (deps.model()) res.json({ health: 'ok' });
    else res.status(503).json({ health: 'loading' });
  });

  router.get('/metadata', (_req, res) => {
    const model = deps.model();
    if (!model) throw new AppError(503, 'MODEL_NOT_READY', 'the model is still loading; try again in a moment');
    const batcher = deps.batcher?.();
    const batching = batcher ? batcher.describe() : describeBatching(1, 0, supportsBatching(model));
    res.json(describeModel(model, limits, { batching }));
  });

  router.post(
    '/predict',
    gate(deps.model),
    express.json({ type: (req) => mediaType(req as Request) === JSON_TYPE, limit: jsonBodyLimit(deps.maxImageBytes) }),
    express.raw({ type: (req) => RAW_TYPES.has(mediaType(req as Request)), limit: deps.maxImageBytes }),
    async (req, res) => {
      const jobId = req.get('x-job-id');
      if (jobId && JOB_ID_PATTERN.test(jobId)) (res.locals as RequestLocals).jobId = jobId;
      const asJson = mediaType(req) === JSON_TYPE;
      // Options come as query parameters with a raw body (what batch sends), as fields of a JSON one.
      const query = req.query as Record<string, unknown>;
      const { bytes, options } = asJson ? fromJson(req.body, query) : { bytes: imageFromRaw(req.body), options: parseOutputOptions(query) };
      if (bytes.length > deps.maxImageBytes) {
        throw new AppError(413, 'BODY_TOO_LARGE', `the image is ${bytes.length} bytes, more than the limit of ${deps.maxImageBytes}; send a smaller file`);
      }
      const model = deps.model()!;
      const result = await removeBackground(bytes, model, { maxImagePixels: deps.maxImagePixels, batcher: deps.batcher?.(), output: options, encoding });
      deps.stageMetrics?.observe(result.timings);
      res.setHeader('Server-Timing', serverTiming(result.timings));
      if (asJson) res.json({ status: 'ok', img_none_bg_base64: result.bytes.toString('base64') });
      else res.type(result.mediaType).send(result.bytes);
    },
  );

  return router;
}
