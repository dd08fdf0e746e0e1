import { z } from 'zod';
import * as contract from '@cutout/shared/contract';
import { ERROR_CATALOGUE, type ErrorCode } from '@cutout/shared/contract';

// The OpenAPI 3.1 document is made from the contract's zod schemas and the error catalogue:
// nothing in it is written by hand but the list of operations below, and a test checks that
// list against the routes the app really serves.

type Body = { json: z.ZodType } | { multipart: 'one' } | { raw: true };

interface Operation {
  method: 'get' | 'post' | 'delete';
  path: string;
  summary: string;
  tag: string;
  /** Request body forms, in the order they are described. */
  bodies?: Body[];
  /** 2xx (and 3xx) answers: a schema, or a media type for bytes. */
  ok: Record<number, { description: string; schema?: z.ZodType; bytes?: string; headers?: string[] }>;
  errors: ErrorCode[];
  query?: Array<{ name: string; description: string; type?: 'number' | 'string' | 'boolean'; required?: boolean }>;
}

const ref = (schema: z.ZodType) => {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error('openapi: a response schema has no id in the contract');
  return { $ref: `#/components/schemas/${id}` };
};

const BODY_ERRORS: ErrorCode[] = ['INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_ENCODING', 'INCOMPLETE_BODY', 'INVALID_CONTENT_ENCODING'];
const IMAGE_ERRORS: ErrorCode[] = ['MISSING_IMAGE', 'INVALID_BASE64', 'EMPTY_IMAGE', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_IMAGE_FORMAT', 'IMAGE_TRUNCATED', 'IMAGE_DECODE_FAILED', 'INVALID_DIMENSIONS', 'TOO_MANY_PIXELS'];
const FILE_ERRORS: ErrorCode[] = ['MISSING_FILE', 'TOO_MANY_FILES', 'INVALID_MULTIPART'];
const SUBMIT_ERRORS: ErrorCode[] = [
  ...BODY_ERRORS,
  ...IMAGE_ERRORS,
  'UNKNOWN_OPTION',
  'INVALID_OPTION',
  'CALLBACK_URL_FORBIDDEN',
  'CALLBACKS_DISABLED',
  'QUEUE_FULL',
  'KEY_QUEUE_FULL',
  'PRIORITY_NOT_ALLOWED',
  'REDIS_UNAVAILABLE',
  'UNAUTHENTICATED',
];
const IDEMPOTENCY_ERRORS: ErrorCode[] = ['INVALID_IDEMPOTENCY_KEY', 'IDEMPOTENCY_KEY_REUSED'];
const GROUP_READ_ERRORS: ErrorCode[] = ['GROUP_NOT_FOUND', 'INVALID_WAIT', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'];
const READ_ERRORS: ErrorCode[] = ['JOB_NOT_FOUND', 'INVALID_WAIT', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'];
const WAIT = { name: 'wait', description: 'long poll: seconds (0–30) to wait for the job to end', type: 'number' as const };
const OPTION_QUERY = contract.OPTION_NAMES.map((name) => ({ name, description: `job option ${name} (with a raw image body)` }));
const JOB_BODIES: Body[] = [{ json: contract.V1CreateJobJsonSchema }, { multipart: 'one' }, { raw: true }];

const OPERATIONS: Operation[] = [
  { method: 'get', path: '/health', summary: 'Health: 200 while Redis answers', tag: 'reference', ok: { 200: { description: 'Redis answers', schema: contract.HealthSchema } }, errors: ['REDIS_UNAVAILABLE'] },
  { method: 'get', path: '/metadata', summary: 'Queue depth, job counts, model', tag: 'reference', ok: { 200: { description: 'counts', schema: contract.MetadataSchema } }, errors: ['REDIS_UNAVAILABLE', 'UNAUTHENTICATED'] },
  {
    method: 'post', path: '/start_job', summary: 'Queue a job (seed 003)', tag: 'reference', bodies: [{ json: contract.StartJobRequestSchema }],
    ok: { 200: { description: 'queued', schema: contract.StartJobResponseSchema } }, errors: [...BODY_ERRORS, ...IMAGE_ERRORS, 'QUEUE_FULL', 'KEY_QUEUE_FULL', 'PRIORITY_NOT_ALLOWED', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'],
  },
  { method: 'get', path: '/get_job/{job_id}', summary: 'A job with both images as base64 (seed 003)', tag: 'reference', query: [WAIT], ok: { 200: { description: 'the job', schema: contract.GetJobResponseSchema } }, errors: READ_ERRORS },
  {
    method: 'post', path: '/v1/jobs', summary: 'Queue a job from JSON, a multipart file or the raw image (Idempotency-Key header allowed)', tag: 'v1', bodies: JOB_BODIES, query: OPTION_QUERY,
    ok: { 202: { description: 'queued (or, for a repeated Idempotency-Key, the first job)', schema: contract.V1JobSchema, headers: ['Location', 'Idempotent-Replayed'] } },
    errors: [...SUBMIT_ERRORS, ...FILE_ERRORS, ...IDEMPOTENCY_ERRORS],
  },
  { method: 'delete', path: '/v1/jobs/{id}', summary: 'Cancel a job', tag: 'v1', ok: { 200: { description: 'the job, now CANCELLED', schema: contract.V1JobSchema } }, errors: ['JOB_NOT_FOUND', 'JOB_ALREADY_FINISHED', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'] },
  {
    method: 'post', path: '/v1/groups', summary: 'Queue many images as one group (JSON images array or many multipart file fields)', tag: 'groups',
    bodies: [{ json: contract.V1CreateGroupJsonSchema }, { multipart: 'one' }], query: OPTION_QUERY,
    ok: { 202: { description: 'queued, all or none (or per index with partial=true)', schema: contract.V1GroupCreatedSchema, headers: ['Location'] } },
    errors: [...SUBMIT_ERRORS, ...FILE_ERRORS, ...IDEMPOTENCY_ERRORS, 'TOO_MANY_IMAGES'],
  },
  { method: 'get', path: '/v1/groups/{id}', summary: 'A group: counts by status and its jobs in order', tag: 'groups', query: [WAIT], ok: { 200: { description: 'the group', schema: contract.V1GroupSchema } }, errors: GROUP_READ_ERRORS },
  {
    method: 'get', path: '/v1/groups/{id}/results.zip', summary: "The group's finished cutouts as a zip, streamed", tag: 'groups',
    ok: { 200: { description: 'a zip of <index>-<job id>.<format> entries; X-Cutout-Group-Complete says whether every job had ended', bytes: 'application/zip', headers: ['X-Cutout-Group-Complete', 'X-Cutout-Group-Included'] } },
    errors: ['GROUP_NOT_FOUND', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'],
  },
  { method: 'delete', path: '/v1/groups/{id}', summary: 'Cancel every unfinished job of a group', tag: 'groups', ok: { 200: { description: 'the group', schema: contract.V1GroupSchema } }, errors: ['GROUP_NOT_FOUND', 'JOB_ALREADY_FINISHED', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'] },
  { method: 'get', path: '/v1/jobs/{id}', summary: 'A job, without image bytes', tag: 'v1', query: [WAIT], ok: { 200: { description: 'the job', schema: contract.V1JobSchema } }, errors: READ_ERRORS },
  {
    method: 'get', path: '/v1/jobs/{id}/result', summary: "A finished job's output bytes", tag: 'v1', query: [WAIT],
    ok: { 200: { description: 'the output', bytes: 'image/png', headers: ['ETag', 'Content-Length'] }, 304: { description: 'not modified (If-None-Match)' } },
    errors: [...READ_ERRORS, 'JOB_NOT_FINISHED', 'JOB_FAILED', 'JOB_CANCELLED'],
  },
  {
    method: 'post', path: '/v1/remove', summary: 'Synchronous: the output bytes once the job is done', tag: 'v1', bodies: JOB_BODIES, query: OPTION_QUERY,
    ok: { 200: { description: 'the output', bytes: 'image/png', headers: ['ETag'] }, 202: { description: 'not done within SYNC_TIMEOUT_MS: the job, which goes on', schema: contract.V1JobSchema, headers: ['Location'] } },
    errors: [...SUBMIT_ERRORS, ...FILE_ERRORS, 'PREDICT_UNAVAILABLE', 'PREDICT_TIMEOUT', 'PREDICT_FAILED', 'WORKER_LOST', 'TOO_MANY_ATTEMPTS'],
  },
  {
    method: 'post', path: '/api/remove', summary: "rembg's server path: multipart file, om, bgc and ppm honoured", tag: 'rembg', bodies: [{ multipart: 'one' }],
    query: [{ name: 'om', description: 'only mask', type: 'boolean' }, { name: 'bgc', description: 'background colour r,g,b,a' }],
    ok: { 200: { description: 'the cutout', bytes: 'image/png' } },
    errors: [...SUBMIT_ERRORS, ...FILE_ERRORS, 'SYNC_TIMEOUT', 'PREDICT_UNAVAILABLE', 'PREDICT_TIMEOUT', 'PREDICT_FAILED'],
  },
  {
    method: 'get', path: '/api/remove', summary: "rembg's \"Remove from URL\": the image fetched from url (public unicast addresses only, or hosts in FETCH_ALLOW_HOSTS; MAX_IMAGE_BYTES while it reads; up to 5 redirects, each checked)", tag: 'rembg',
    query: [
      { name: 'url', description: 'http(s) URL of the image', required: true },
      { name: 'om', description: 'only mask', type: 'boolean' },
      { name: 'bgc', description: 'background colour r,g,b,a' },
      { name: 'ppm', description: 'post-process the mask', type: 'boolean' },
    ],
    ok: { 200: { description: 'the cutout', bytes: 'image/png' } },
    errors: [...IMAGE_ERRORS, 'UNKNOWN_OPTION', 'INVALID_OPTION', 'FETCH_URL_FORBIDDEN', 'FETCH_FAILED', 'QUEUE_FULL', 'KEY_QUEUE_FULL', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED', 'SYNC_TIMEOUT', 'PREDICT_UNAVAILABLE', 'PREDICT_TIMEOUT', 'PREDICT_FAILED'],
  },
  { method: 'post', path: '/predict', summary: 'Queue a task (seed 001, Celery style)', tag: 'tasks', bodies: [{ json: contract.V1CreateJobJsonSchema }], ok: { 200: { description: 'queued', schema: contract.TaskCreatedSchema } }, errors: SUBMIT_ERRORS },
  { method: 'get', path: '/tasks/{task_id}', summary: "A task in Celery's state words", tag: 'tasks', ok: { 200: { description: 'the task', schema: contract.TaskViewSchema } }, errors: ['JOB_NOT_FOUND', 'REDIS_UNAVAILABLE', 'UNAUTHENTICATED'] },
  {
    method: 'post', path: '/', summary: 'Vision-style synchronous batch (seed 004)', tag: 'vision', bodies: [{ json: contract.VisionRequestSchema }],
    ok: { 200: { description: 'one response per request, in order', schema: contract.VisionResponseSchema } },
    errors: [...BODY_ERRORS, 'INVALID_REQUEST', 'TOO_MANY_ENTRIES', 'UNAUTHENTICATED'],
  },
  { method: 'get', path: '/', summary: 'The upload page (CONTRACT §8); its files are under /page/{hash}/{name}', tag: 'page', ok: { 200: { description: 'an HTML page', bytes: 'text/html' } }, errors: [] },
  { method: 'get', path: '/page/{hash}/{name}', summary: "The page's script, style and icon files, cached for good (the hash names their content)", tag: 'page', ok: { 200: { description: 'a static file' } }, errors: ['NOT_FOUND'] },
  { method: 'get', path: '/openapi.json', summary: 'This document', tag: 'docs', ok: { 200: { description: 'OpenAPI 3.1' } }, errors: [] },
  { method: 'get', path: '/docs', summary: 'This document, rendered', tag: 'docs', ok: { 200: { description: 'an HTML page', bytes: 'text/html' } }, errors: [] },
];

const inline = (schema: z.ZodType) => {
  // An empty registry inlines everything: a request body is described as a client writes it.
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', metadata: z.registry() }) as Record<string, unknown>;
  return json;
};

function requestBody(bodies: Body[]) {
  const content: Record<string, unknown> = {};
  for (const body of bodies) {
    if ('json' in body) content['application/json'] = { schema: inline(body.json) };
    if ('multipart' in body) {
      const fields = Object.fromEntries(contract.OPTION_NAMES.map((name) => [name, { type: 'string' }]));
      content['multipart/form-data'] = { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' }, ...fields } } };
    }
    if ('raw' in body) for (const type of ['image/png', 'image/jpeg', 'image/webp']) content[type] = { schema: { type: 'string', contentMediaType: type } };
  }
  return { required: true, content };
}

function responses(op: Operation) {
  const out: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(op.ok)) {
    const headers = answer.headers ? Object.fromEntries(answer.headers.map((h) => [h, { schema: { type: 'string' } }])) : undefined;
    const content = answer.schema ? { 'application/json': { schema: ref(answer.schema) } } : answer.bytes ? { [answer.bytes]: { schema: { type: 'string', contentMediaType: answer.bytes } } } : undefined;
    out[status] = { description: answer.description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) };
  }
  // Errors grouped by their status, each listing the codes it may carry.
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...op.errors, 'INTERNAL' as const])) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = { description: codes.map((c) => `${c}: ${ERROR_CATALOGUE[c].summary}`).join('; '), content: { 'application/json': { schema: ref(contract.ErrorBodySchema) } } };
  }
  return out;
}

function parameters(op: Operation) {
  const path = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const query = (op.query ?? []).map((q) => ({ name: q.name, in: 'query', required: q.required ?? false, description: q.description, schema: { type: q.type ?? 'string' } }));
  return [...path, ...query];
}

/** The document, made once per app: it depends on nothing that changes while the proxy runs. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const components = z.toJSONSchema(z.globalRegistry, { uri: (id) => `#/components/schemas/${id}`, io: 'output', unrepresentable: 'any' }).schemas;
  const schemas = Object.fromEntries(Object.entries(components).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = {
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase()) || 'Root'}`,
      summary: op.summary,
      tags: [op.tag],
      parameters: parameters(op),
      ...(op.bodies ? { requestBody: requestBody(op.bodies) } : {}),
      responses: responses(op),
      ...(op.path === '/health' || op.path.startsWith('/docs') || op.path === '/openapi.json' || op.tag === 'page' ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'cutout', version, description: 'Asynchronous background removal: every API of CONTRACT §1 and §6 enters the same queue.' },
    paths,
    components: {
      schemas,
      securitySchemes: { apiToken: { type: 'apiKey', in: 'header', name: 'X-Api-Token' }, bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ apiToken: [] }, { bearer: [] }, {}],
  };
}

/** "/v1/jobs/{id}" for every operation, as "METHOD path", for the route check. */
export const DOCUMENTED_ROUTES = OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`);
