import { Router, type Request, type Response } from 'express';
import { AppError, mediaTypeOf, type RequestLocals } from '@cutout/shared';
import { parseJobOptions, type VisionResponseEntry } from '@cutout/shared/contract';
import { ownerOf, type Owner } from './auth.js';
import { bodyLimitBytes, imageTooLarge, imagesCap } from './jobs.schema.js';
import { checkUpload, type JobService } from './jobs.service.js';
import { OversizedImage, type JsonPath } from './json-assembler.js';
import { readJsonStream } from './json-stream.js';
import { bodyQueued, type RequestLimits } from './route-helpers.js';

export interface VisionRouteDeps {
  service: JobService;
  limits: RequestLimits;
  /** SYNC_TIMEOUT_MS, for the whole body. */
  timeoutMs: number;
  /** VISION_MAX_REQUESTS. */
  maxRequests: number;
}

/**
 * Feature keys seed 004's client sends for its object detector. They mean nothing to background
 * removal; they are accepted and ignored so that client works unchanged. Any other unknown key
 * is an error for its entry.
 */
const DETECTOR_FEATURES = new Set(['type', 'score_th', 'nms_iou', 'min_height', 'min_width', 'maxResults']);

function invalidBody(detail: string): AppError {
  return new AppError(400, 'INVALID_REQUEST', `${detail}; send {"requests": [{"image": {"content": "<base64>"}, "features": [{...options}]}]}`);
}

/** The entries of the body, checked for shape only (each entry's own errors are its answer). */
function entriesOf(body: unknown, maxRequests: number): unknown[] {
  const requests = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).requests : undefined;
  if (!Array.isArray(requests)) throw invalidBody('the body has no "requests" array');
  if (requests.length === 0) throw invalidBody('"requests" is empty');
  if (requests.length > maxRequests) {
    throw new AppError(413, 'TOO_MANY_ENTRIES', `the body holds ${requests.length} requests, more than ${maxRequests} (VISION_MAX_REQUESTS); split it into several calls`);
  }
  return requests;
}

function errorEntry(error: unknown, jobId?: string): VisionResponseEntry {
  const known = error instanceof AppError ? error : new AppError(500, 'INTERNAL', 'this entry failed unexpectedly; send it again');
  return { error: { code: known.code as never, message: known.message, ...(jobId ? { job_id: jobId } : {}) } };
}

type Submitted = { jobId: string; width: number; height: number } | { error: VisionResponseEntry };

/** One entry: its image checked and queued as a job, or the error that stops it. */
async function submitEntry(entry: unknown, deps: VisionRouteDeps, owner: Owner, requestId: string): Promise<Submitted> {
  try {
    const fields = entry && typeof entry === 'object' && !Array.isArray(entry) ? (entry as Record<string, unknown>) : {};
    const image = fields.image && typeof fields.image === 'object' ? (fields.image as Record<string, unknown>).content : undefined;
    if (image instanceof OversizedImage) throw imageTooLarge(deps.limits.maxImageBytes);
    if (typeof image !== 'string') throw new AppError(400, 'MISSING_IMAGE', 'this entry has no image.content string; send {"image": {"content": "<base64>"}}');
    const features = Array.isArray(fields.features) ? fields.features[0] : undefined;
    const given = features && typeof features === 'object' ? (features as Record<string, unknown>) : {};
    const options = parseJobOptions(Object.fromEntries(Object.entries(given).filter(([key]) => !DETECTOR_FEATURES.has(key))));
    const upload = checkUpload(image, deps.limits);
    const started = await deps.service.submit(upload, { requestId, owner, options });
    return { jobId: started.jobId, width: upload.header.width, height: upload.header.height };
  } catch (error) {
    return { error: errorEntry(error) };
  }
}

const REQUESTS_PATH: JsonPath = ['requests'];

/**
 * The body, read as it streams (json-stream.ts): an entry's image.content is held up to the
 * image limit, an entry past VISION_MAX_REQUESTS refuses the body there and then, and the
 * whole is held to MAX_REQUEST_BYTES.
 */
function readVisionBody(req: Request, res: Response, deps: VisionRouteDeps): Promise<unknown> {
  // As express.json took it: a request with no body at all, or an empty one of no type, is read as {}.
  const hasBody = req.get('transfer-encoding') !== undefined || !Number.isNaN(Number.parseInt(req.get('content-length') ?? '', 10));
  const emptyUntyped = req.get('content-length') === '0' && !req.get('content-type');
  if (hasBody && !emptyUntyped && mediaTypeOf(req) !== 'application/json') {
    const given = req.get('content-type') ?? 'none';
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(given.slice(0, 100))} is not accepted; send a JSON body {"requests": [...]} with Content-Type: application/json`);
  }
  const tooMany = () => new AppError(413, 'TOO_MANY_ENTRIES', `the body holds more than ${deps.maxRequests} requests (VISION_MAX_REQUESTS); split it into several calls`);
  return readJsonStream(req, res, {
    limits: deps.limits,
    cap: imagesCap(deps.limits, deps.maxRequests),
    rules: {
      isImage: (path) => path.length === 4 && path[0] === 'requests' && path[2] === 'image' && path[3] === 'content',
      maxImageChars: bodyLimitBytes(deps.limits.maxImageBytes),
      list: { path: REQUESTS_PATH, max: deps.maxRequests, tooMany },
    },
  });
}

/** Every entry queued (or refused), one after another: admission control sees each, and a full queue fails only the entries past it. */
async function submitAll(body: unknown, deps: VisionRouteDeps, owner: Owner, requestId: string): Promise<Submitted[]> {
  const submitted: Submitted[] = [];
  for (const entry of entriesOf(body, deps.maxRequests)) submitted.push(await submitEntry(entry, deps, owner, requestId));
  return submitted;
}

/** Seed 004's Vision-style API: POST / with many entries, one answer per entry, in order, synchronous. */
export function visionRoutes(deps: VisionRouteDeps): Router {
  const router = Router();

  router.post('/', async (req: Request, res: Response) => {
    const owner = ownerOf(res);
    const requestId = (res.locals as RequestLocals).requestId;
    const body = await readVisionBody(req, res, deps);
    const deadline = performance.now() + deps.timeoutMs;
    const submitted = await submitAll(body, deps, owner, requestId);
    // The images are in the queue now; the wait for their results holds none of them.
    bodyQueued(res);
    const responses = await Promise.all(
      submitted.map(async (s): Promise<VisionResponseEntry> => {
        if ('error' in s) return s.error;
        try {
          const record = await deps.service.awaitEnd(s.jobId, owner, Math.max(0, deadline - performance.now()));
          if (record.status === 'SUCCEEDED') {
            const output = await deps.service.outputBase64(s.jobId);
            if (output !== null) return { image: { content: output }, width: s.width, height: s.height };
          }
          if (record.status === 'FAILED' && record.error) return errorEntry(new AppError(422, record.error.code, record.error.message), s.jobId);
          return errorEntry(new AppError(503, 'SYNC_TIMEOUT', `not ready within ${deps.timeoutMs} ms (SYNC_TIMEOUT_MS); the job goes on: fetch it from /v1/jobs/${s.jobId}/result`), s.jobId);
        } catch (error) {
          return errorEntry(error, s.jobId);
        }
      }),
    );
    res.json({ responses });
  });

  return router;
}
