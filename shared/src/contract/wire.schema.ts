import { z } from 'zod';
import { ERROR_CODES } from './error-catalogue.js';
import { JobOptionsSchema } from './options.js';
import { CELERY_STATES, V1_STATUSES } from './status.js';
import { JOB_STATUSES } from '../job-status.js';

// Every body the proxy answers or accepts, declared once: the routes validate with these, the
// CLI, the bench and the tests read answers with them, and /openapi.json is made from them.

const base64 = z.string().meta({ description: 'base64 of a PNG, JPEG or WebP file (a data:image/...;base64, prefix is accepted)' });
const isoTime = z.string().nullable().meta({ description: 'ISO 8601 time, or null before it happened' });

export const ErrorDetailSchema = z
  .object({
    // A string, not an enum: a client must keep working when a newer server adds a code.
    code: z.string().meta({ description: 'stable error code (docs/errors.md)', examples: ERROR_CODES }),
    message: z.string().meta({ description: 'what is wrong and how to fix it' }),
    request_id: z.string().optional(),
  })
  .meta({ id: 'ErrorDetail' });

export const ErrorBodySchema = z.object({ status: z.literal('ng'), error: ErrorDetailSchema }).meta({ id: 'ErrorBody' });

// §1: the reference job API (seed 003).
export const HealthSchema = z.object({ status: z.enum(['ok', 'ng']) }).loose().meta({ id: 'Health' });
export const MetadataSchema = z
  .object({
    status: z.literal('ok'),
    queue: z.object({ queued: z.number(), running: z.number(), delayed: z.number(), by_priority: z.record(z.string(), z.number()) }).loose(),
    jobs: z.record(z.string(), z.number()),
    callbacks: z.record(z.string(), z.number()).optional(),
  })
  .loose()
  .meta({ id: 'Metadata', description: 'queue depth and job counts; with API keys on, nothing else' });
export const StartJobRequestSchema = z.object({ image: base64 }).loose().meta({ id: 'StartJobRequest' });
export const StartJobResponseSchema = z
  .object({ status: z.literal('ok'), job_id: z.string(), job_status: z.literal('QUEUED') })
  .meta({ id: 'StartJobResponse' });
export const JobTimingsSchema = z.record(z.string(), z.number()).meta({ id: 'JobTimings', description: 'where a SUCCEEDED job spent its time, in ms' });
export const GetJobResponseSchema = z
  .object({
    status: z.enum(['ok', 'ng']).meta({ description: '"ok" exactly when img_out_base64 holds the finished result' }),
    job_id: z.string(),
    job_status: z.enum(JOB_STATUSES),
    img_in_base64: z.string().nullable(),
    img_out_base64: z.string().nullable(),
    error: ErrorDetailSchema.optional(),
    created_at: isoTime.optional(),
    started_at: isoTime.optional(),
    finished_at: isoTime.optional(),
    attempts: z.number().int().optional(),
    timings: JobTimingsSchema.nullable().optional(),
  })
  .meta({ id: 'GetJobResponse' });

// §6: /v1.
export const V1CreateJobJsonSchema = JobOptionsSchema.extend({ image: base64 }).meta({ id: 'CreateJobJson' });
export const V1JobSchema = z
  .object({
    id: z.string(),
    status: z.enum(V1_STATUSES),
    created_at: isoTime,
    started_at: isoTime,
    finished_at: isoTime,
    attempts: z.number().int(),
    options: JobOptionsSchema,
    group_id: z.string().optional().meta({ description: 'the group the job belongs to' }),
    error: ErrorDetailSchema.optional(),
    result_url: z.string().optional().meta({ description: 'where the output bytes are, once SUCCEEDED' }),
  })
  .meta({ id: 'Job' });

export const V1CreateGroupJsonSchema = JobOptionsSchema.extend({
  images: z.array(base64).min(1),
  partial: z.boolean().optional().meta({ description: 'queue the good images and report the bad ones per index, instead of refusing the request' }),
}).meta({ id: 'CreateGroupJson' });

export const GROUP_STATUSES = ['QUEUED', 'RUNNING', 'DONE'] as const;

export const V1GroupSchema = z
  .object({
    id: z.string(),
    status: z.enum(GROUP_STATUSES).meta({ description: 'DONE when every job has ended' }),
    size: z.number().int(),
    created_at: isoTime,
    finished_at: isoTime,
    options: JobOptionsSchema,
    counts: z.record(z.enum(V1_STATUSES), z.number().int()),
    jobs: z.array(V1JobSchema),
    results_url: z.string(),
  })
  .meta({ id: 'Group' });

export const V1GroupCreatedSchema = z
  .object({
    id: z.string(),
    jobs: z.array(z.string()).meta({ description: 'job ids, in the order of the images' }),
    rejected: z.array(z.object({ index: z.number().int(), error: ErrorDetailSchema })).optional().meta({ description: 'with partial=true: the images that were not queued' }),
  })
  .meta({ id: 'GroupCreated' });

// Seed 001: the FastAPI + Celery task API.
export const TaskCreatedSchema = z.object({ task_id: z.string() }).meta({ id: 'TaskCreated' });
export const TaskViewSchema = z
  .object({
    task_id: z.string(),
    status: z.enum(CELERY_STATES),
    result: z.union([z.object({ img_out_base64: z.string() }), z.object({ error: ErrorDetailSchema }), z.null()]),
  })
  .meta({ id: 'Task' });

// Seed 004: the Vision-style synchronous API.
export const VisionRequestSchema = z
  .object({
    requests: z.array(
      z.object({
        image: z.object({ content: base64 }),
        features: z.array(z.record(z.string(), z.unknown())).optional().meta({ description: 'job options; the first entry is used' }),
      }),
    ),
  })
  .meta({ id: 'VisionRequest' });
export const VisionResponseEntrySchema = z.union([
  z.object({ image: z.object({ content: z.string() }), width: z.number().int(), height: z.number().int() }),
  z.object({ error: ErrorDetailSchema.extend({ job_id: z.string().optional() }) }),
]);
export const VisionResponseSchema = z.object({ responses: z.array(VisionResponseEntrySchema) }).meta({ id: 'VisionResponse' });

export type ErrorBody = z.infer<typeof ErrorBodySchema>;
export type GetJobResponse = z.infer<typeof GetJobResponseSchema>;
export type StartJobResponse = z.infer<typeof StartJobResponseSchema>;
export type V1Job = z.infer<typeof V1JobSchema>;
export type V1Group = z.infer<typeof V1GroupSchema>;
export type V1GroupCreated = z.infer<typeof V1GroupCreatedSchema>;
export type TaskView = z.infer<typeof TaskViewSchema>;
export type VisionResponse = z.infer<typeof VisionResponseSchema>;
export type VisionResponseEntry = z.infer<typeof VisionResponseEntrySchema>;
