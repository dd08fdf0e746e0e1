export { AppError, errorBody, type ErrorBody } from './errors.js';
export { JOB_STATUSES, JOB_ID_PATTERN, type JobStatus } from './job-status.js';
export { createLogger, type Logger } from './logger.js';
export { createRedisClient, closeRedisClient, type RedisClient, type RedisClientOptions } from './redis/client.js';
export { RedisCallTimeoutError, RedisLink, type RedisLinkOptions } from './redis/redis-link.js';
export { LuaScript } from './redis/lua-script.js';
export { queueKeys, jobKeys, JOB_KEY_SUFFIXES, type QueueKeys, type JobKeys } from './redis/keys.js';
export {
  JobRepository,
  type JobRecord,
  type JobWithImageBytes,
  type NewJob,
  type NewImage,
  type SubmitFields,
  type QueueStats,
  type JobRepositoryOptions,
  type EnqueueResult,
  type TakenJob,
  type TakeResult,
  type RetryResult,
  type ReapResult,
  type DeadLetter,
} from './redis/job.repository.js';
export { IMAGE_PIECE_BYTES, ImageChangedError, readJobWithImagePieces, type ImagePieces, type JobWithImagePieces } from './redis/job-image-pieces.js';
export { JOB_TIMING_FIELDS, parseJobTimings, pickJobTimings, type JobTimings } from './redis/job-timings.js';
export { requestContext, requestIdFrom, type RequestLocals } from './http/request-context.js';
export { errorHandler, internalErrorBody, invalidContentEncoding, invalidJson, notFoundHandler, type ErrorHandlerOptions } from './http/error-handler.js';
export { mediaTypeOf, readImageField, fieldsOf, RAW_IMAGE_TYPES } from './http/body.js';
export { serverLimits } from './http/server-limits.js';
export { enforceWriteDeadline, reportCuts, tagRoute, type CutResponse, type WriteDeadlineOptions } from './http/write-deadline.js';
export { freePort, onFreePort } from './process/free-port.js';
export { DataDirInUseError, LOCK_FILE } from './process/dir-lock.js';
export {
  startRedisServer,
  hasRedisServer,
  RedisServerMissingError,
  type RedisServerHandle,
  type RedisServerOptions,
} from './process/redis-server.js';
export { decodeBase64Image, decodeBase64Upload } from './image/base64.js';
export { readImageHeader, assertImageComplete, type ImageHeader, type ImageFormat } from './image/image-header.js';
export { checkPngDataLength, maxCompressedSize, pngDataTooLarge, readPngData, scanlineSize, type PngData } from './image/png-data.js';
export { checkRedisDurability } from './redis/durability.js';
export { groupKeys, queueKeyList, GROUP_KEY_SUFFIXES, type GroupKeys } from './redis/keys.js';
export { type GroupRecord } from './redis/group-record.js';
export { checkCallbackUrl, checkFetchUrl, type OutboundTarget, type Lookup } from './outbound/url-guard.js';
export { isPublicAddress } from './outbound/public-address.js';
export { fetchImage, MAX_FETCH_REDIRECTS, type FetchImageOptions } from './outbound/fetch-image.js';
export { signCallback, verifyCallback } from './callbacks/signature.js';
export { errorMessage } from './error-message.js';
export { runService, type RunServiceOptions, type ServiceContext, type ServicePart, type StrayErrorOrigin } from './process/run-service.js';
export { WakeableSleeps } from './process/wakeable-sleeps.js';
export { LinkedAbort } from './process/linked-abort.js';
export { httpServerPart, listen, type HttpServerPartOptions } from './process/http-server-part.js';
