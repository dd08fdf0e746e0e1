/**
 * Every stable error code a cutout service answers or records, with the HTTP status it is
 * answered with and whether the same request may succeed later. One table, so the proxy, predict,
 * batch, the OpenAPI document and docs/errors.md cannot drift apart (a test checks the doc and
 * every `new AppError(status, code, ...)` in the source against it).
 *
 * Job failure codes (recorded on a FAILED job) carry the status a synchronous call answers
 * with when its job ends with that code.
 */
export interface ErrorSpec {
  readonly status: number;
  /** True when sending the same request again later may succeed. */
  readonly retryable: boolean;
  /** One line for the OpenAPI document. */
  readonly summary: string;
}

const spec = (status: number, retryable: boolean, summary: string): ErrorSpec => ({ status, retryable, summary });

export const ERROR_CATALOGUE = {
  // Reading the request
  INVALID_JSON: spec(400, false, 'the body is not valid JSON'),
  UNSUPPORTED_MEDIA_TYPE: spec(415, false, 'the Content-Type is not one this call accepts'),
  UNSUPPORTED_ENCODING: spec(415, false, "the body's charset or Content-Encoding is not supported"),
  INVALID_CONTENT_ENCODING: spec(400, false, 'the body does not decompress as its Content-Encoding says'),
  INCOMPLETE_BODY: spec(400, false, 'the connection ended before the whole body arrived'),
  BODY_TOO_LARGE: spec(413, false, 'the request body is over the size limit'),
  BAD_REQUEST: spec(400, false, 'the request could not be read'),
  INVALID_REQUEST: spec(400, false, 'the body is not of the shape this call expects'),
  NOT_FOUND: spec(404, false, 'no such path or method'),
  // The image
  MISSING_IMAGE: spec(400, false, 'no image in the request'),
  MISSING_FILE: spec(400, false, 'a multipart body without a "file" field'),
  TOO_MANY_FILES: spec(400, false, 'a multipart body with more than one file'),
  INVALID_MULTIPART: spec(400, false, 'the multipart/form-data body is malformed'),
  INVALID_BASE64: spec(400, false, 'the image is not base64'),
  EMPTY_IMAGE: spec(400, false, 'the image is empty'),
  IMAGE_TOO_LARGE: spec(413, false, 'the image is over MAX_IMAGE_BYTES'),
  UNSUPPORTED_IMAGE_FORMAT: spec(415, false, 'the bytes are not PNG, JPEG or WebP'),
  IMAGE_TRUNCATED: spec(400, false, 'the file is cut short'),
  IMAGE_DECODE_FAILED: spec(422, false, 'the image is corrupt'),
  INVALID_DIMENSIONS: spec(422, false, 'the header declares a width or height of 0'),
  TOO_MANY_PIXELS: spec(422, false, 'width × height is over MAX_IMAGE_PIXELS'),
  PNG_DATA_TOO_LARGE: spec(422, false, "a PNG whose compressed data holds more than its header's size (a decompression bomb)"),
  // Options and parameters
  UNKNOWN_OPTION: spec(400, false, 'an option this call does not know'),
  INVALID_OPTION: spec(400, false, 'an option with a value it cannot take'),
  INVALID_WAIT: spec(400, false, 'wait is not a number of seconds from 0 to 30'),
  TOO_MANY_ENTRIES: spec(413, false, 'a Vision-style body with more entries than VISION_MAX_REQUESTS'),
  TOO_MANY_IMAGES: spec(413, false, 'a group with more images than GROUP_MAX_IMAGES'),
  CALLBACK_URL_FORBIDDEN: spec(400, false, 'callback_url is not http(s), does not resolve, or resolves to an address that is not public unicast'),
  CALLBACKS_DISABLED: spec(400, false, "callback_url was given but neither CALLBACK_SECRET nor the API key's callback_secret is set"),
  FETCH_URL_FORBIDDEN: spec(400, false, 'the url to fetch (or a redirect it led to) is not http(s), does not resolve, or resolves to an address that is not public unicast'),
  FETCH_FAILED: spec(422, true, 'the image could not be fetched from the url: no connection, no answer in time, a non-2xx answer, or too many redirects'),
  INVALID_IDEMPOTENCY_KEY: spec(400, false, 'the Idempotency-Key header is empty or longer than 255 characters'),
  IDEMPOTENCY_KEY_REUSED: spec(422, false, 'the Idempotency-Key was used with another body, or on the other route (a key names a job or a group)'),
  // Who is asking
  UNAUTHENTICATED: spec(401, false, 'no API key, or one that is not valid'),
  KEY_QUEUE_FULL: spec(429, true, 'this API key already has API_KEY_MAX_QUEUED (or its own max_queued) unfinished jobs'),
  PRIORITY_NOT_ALLOWED: spec(403, false, "the job's priority (normal when none is given) is not one its API key may use (API_KEYS_FILE priorities=)"),
  // Jobs
  JOB_NOT_FOUND: spec(404, false, 'no job has this id (or it belongs to another API key)'),
  JOB_NOT_FINISHED: spec(409, true, 'the job is still QUEUED or RUNNING'),
  JOB_FAILED: spec(409, false, 'the job FAILED; the error says why'),
  JOB_CANCELLED: spec(409, false, 'the job was CANCELLED'),
  JOB_ALREADY_FINISHED: spec(409, false, 'the job (or every job of the group) has already ended; there is nothing to cancel'),
  GROUP_NOT_FOUND: spec(404, false, 'no group has this id (or it belongs to another API key)'),
  SYNC_TIMEOUT: spec(503, true, 'the job did not finish within SYNC_TIMEOUT_MS; it goes on and can be fetched by id'),
  QUEUE_FULL: spec(429, true, 'QUEUE_MAX_DEPTH jobs are already waiting; nothing was queued'),
  BODY_BUDGET_FULL: spec(503, true, 'the proxy already holds BODY_BUDGET_BYTES of request bodies; nothing was queued'),
  // The services
  REDIS_UNAVAILABLE: spec(503, true, 'Redis cannot be reached or did not answer in time'),
  MODEL_NOT_READY: spec(503, true, 'predict is still loading its model'),
  PREDICT_BUSY: spec(429, true, 'predict is already working on PREDICT_MAX_INFLIGHT requests'),
  INTERNAL: spec(500, true, 'an unexpected failure; the body carries request_id'),
  // Why a job failed
  INPUT_EXPIRED: spec(410, false, 'the input expired before a worker took the job'),
  TOO_MANY_ATTEMPTS: spec(422, false, 'every worker that took the job crashed'),
  WORKER_LOST: spec(503, true, 'the worker running the job stopped renewing its lease'),
  PREDICT_UNAVAILABLE: spec(503, true, 'no predict server could be reached'),
  PREDICT_TIMEOUT: spec(504, true, 'predict did not answer within PREDICT_TIMEOUT_MS'),
  PREDICT_FAILED: spec(502, true, 'predict answered 5xx, or the connection broke after the request was sent'),
  PREDICT_BAD_OUTPUT: spec(502, true, 'predict answered 200 with something that is not the image asked for (format, size)'),
  CANCELLED: spec(409, false, 'the job was cancelled before it finished (§1 shows it FAILED with this code)'),
  DEADLINE_EXCEEDED: spec(503, true, 'the job was not started within its deadline_s; it never ran'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

/** The HTTP status a code is answered with; 500 for a code that is not ours. */
export function statusOf(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOGUE[code].status : 500;
}
