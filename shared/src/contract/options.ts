import { z } from 'zod';
import { AppError } from '../errors.js';
import { PRIORITIES } from './status.js';

export const OUTPUT_FORMATS = ['png', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const TRUE_WORDS = ['true', '1', 'yes', 'on'] as const;
const FALSE_WORDS = ['false', '0', 'no', 'off'] as const;

/**
 * A flag as JSON sends it (true/false) or as a form field or query parameter does ("true",
 * "1", "on" for a checked box, ...). One schema for every body form, so the forms cannot differ.
 */
const flag = z.union([
  z.boolean(),
  z.enum([...TRUE_WORDS, ...FALSE_WORDS]).transform((word) => (TRUE_WORDS as readonly string[]).includes(word)),
]);

const HEX = /^#([0-9a-f]{6}|[0-9a-f]{8})$/i;
const RGBA = /^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*(\d{1,3})\s*)?$/;

/** '#rrggbb', '#rrggbbaa', 'r,g,b' or 'r,g,b,a' (rembg's bgc) → '#rrggbbaa', or null when it is none of them. */
export function normalizeColour(text: string): string | null {
  if (HEX.test(text)) return text.length === 7 ? `${text.toLowerCase()}ff` : text.toLowerCase();
  const m = RGBA.exec(text);
  if (!m) return null;
  const parts = [m[1], m[2], m[3], m[4] ?? '255'].map(Number);
  if (parts.some((p) => p > 255)) return null;
  return `#${parts.map((p) => p.toString(16).padStart(2, '0')).join('')}`;
}

const colour = z
  .string()
  .transform((text, ctx) => {
    const normal = normalizeColour(text.trim());
    if (normal === null) {
      ctx.addIssue({ code: 'custom', message: 'expected #rrggbb, #rrggbbaa or r,g,b,a with each part from 0 to 255' });
      return z.NEVER;
    }
    return normal;
  })
  .meta({ description: 'background colour: #rrggbb, #rrggbbaa or r,g,b,a (0–255 each); stored as #rrggbbaa' });

const OUTPUT_SHAPE = {
  format: z.enum(OUTPUT_FORMATS).default('png').meta({ description: 'png (default) or webp (lossless)' }),
  only_mask: flag.default(false).meta({ description: 'answer the mask alone, as an 8-bit greyscale image' }),
  bgcolor: colour.nullable().default(null),
  post_process_mask: flag.default(false).meta({ description: "rembg's post_process_mask: a morphological opening, a blur and a threshold that clean the mask's edges" }),
};

/** The options that shape the output (CONTRACT §3): what predict is told. */
export const OutputOptionsSchema = z.strictObject(OUTPUT_SHAPE);
export type OutputOptions = z.output<typeof OutputOptionsSchema>;

/** Seconds as JSON sends them (a number) or a form or query does (text). */
const seconds = z.union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/).transform(Number)]).pipe(z.number().positive().max(365 * 24 * 3600));

/** Every option of CONTRACT §6, on every body form: the value a job carries and its view shows. */
export const JobOptionsSchema = z
  .strictObject({
    ...OUTPUT_SHAPE,
    priority: z.enum(PRIORITIES).default('normal').meta({ description: 'high, normal (default) or low; strictly served in that order' }),
    deadline_s: seconds.nullable().default(null).meta({ description: 'a job not started this many seconds after submit ends FAILED DEADLINE_EXCEEDED' }),
    callback_url: z.string().max(2048).url().nullable().default(null).meta({ description: 'POSTed the job (or group) JSON when it ends, signed' }),
  })
  .meta({ id: 'JobOptions', description: 'How the output is made (CONTRACT §3) and how the job is run (§6).' });

export type JobOptions = z.output<typeof JobOptionsSchema>;
export type JobOptionsInput = z.input<typeof JobOptionsSchema>;
export const OPTION_NAMES = Object.keys(JobOptionsSchema.shape) as (keyof JobOptions)[];
export const DEFAULT_JOB_OPTIONS: JobOptions = Object.freeze({
  format: 'png',
  only_mask: false,
  bgcolor: null,
  post_process_mask: false,
  priority: 'normal',
  deadline_s: null,
  callback_url: null,
});

/** The message for one failed option: which one, what was wrong, what it may be. */
function describeIssue(issue: z.core.$ZodIssue): AppError {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ');
    return new AppError(400, 'UNKNOWN_OPTION', `unknown option ${keys}; the options are ${OPTION_NAMES.join(', ')}`);
  }
  const name = String(issue.path[0] ?? 'options');
  const allowed: Record<string, string> = {
    format: '"png" or "webp"',
    only_mask: 'true or false',
    bgcolor: '#rrggbb, #rrggbbaa or r,g,b,a (each 0–255)',
    post_process_mask: 'true or false',
    priority: '"high", "normal" or "low"',
    deadline_s: 'a number of seconds above 0',
    callback_url: 'an absolute http:// or https:// URL',
  };
  return new AppError(400, 'INVALID_OPTION', `option ${name} cannot be that value; it takes ${allowed[name] ?? 'another value'}`);
}

/**
 * The job options in `input` (a JSON object without its image, the fields of a form, or the
 * query), defaults filled in. Unknown names answer 400 UNKNOWN_OPTION, bad values INVALID_OPTION.
 */
export function parseJobOptions(input: Readonly<Record<string, unknown>>): JobOptions {
  const parsed = JobOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw describeIssue(parsed.error.issues[0]!);
}

/** predict's options: only those that shape the output; the same messages for the same mistakes. */
export function parseOutputOptions(input: Readonly<Record<string, unknown>>): OutputOptions {
  const parsed = OutputOptionsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw describeIssue(parsed.error.issues[0]!);
}

/** The output options that differ from the defaults, as query parameters for predict (empty for none). */
export function optionsToQuery(options: OutputOptions): string {
  const params = new URLSearchParams();
  if (options.format !== 'png') params.set('format', options.format);
  if (options.only_mask) params.set('only_mask', 'true');
  if (options.bgcolor !== null) params.set('bgcolor', options.bgcolor);
  if (options.post_process_mask) params.set('post_process_mask', 'true');
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The media type of an output in `format`. */
export const outputMediaType = (format: OutputFormat): string => `image/${format}`;

/**
 * A job record's `options` field (JSON written by enqueue, or absent for the defaults). It was
 * validated at submit; anything unreadable falls back to the defaults rather than failing a job.
 */
export function parseStoredOptions(text: string | undefined): JobOptions {
  if (text === undefined || text === '') return DEFAULT_JOB_OPTIONS;
  try {
    const parsed = JobOptionsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : DEFAULT_JOB_OPTIONS;
  } catch {
    return DEFAULT_JOB_OPTIONS;
  }
}
