import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readFlags, UsageError } from '../cli/flags.js';

export { UsageError };

export const APIS = ['seed003', 'v1', 'sync', 'task'] as const;
export type ApiName = (typeof APIS)[number];

export interface LoadOptions {
  host: string;
  port: number;
  /** Requests per round (-N). */
  requests: number;
  /** Seconds between rounds (-T); undefined: each round waits for the one before (seed 002's test_script.py). */
  intervalMs: number | undefined;
  rounds: number;
  verbose: boolean;
  api: ApiName;
  /** Images per request through POST /v1/groups (--group); undefined: one image per request. */
  group: number | undefined;
  inImagesDir: string;
  reportFile: string | undefined;
  json: boolean;
  apiKey: string | undefined;
  timeoutMs: number;
}

export type ParsedLoadArgs = { help: true } | { help: false; options: LoadOptions };

/** The repository's sample photos: the default when there is no ./in_images. */
const SAMPLE_IMAGES = fileURLToPath(new URL('../../../test/fixtures/images/', import.meta.url));

export const LOAD_USAGE = `Usage: cutout-load [options]

Drives a running cutout proxy the way seed 002's test scripts do and reports what it saw.

  -N <n>                 requests per round, sent in parallel (default 1)
  -T <seconds>           start a new round every T seconds without waiting for earlier
                         requests (open loop); without -T each round waits for the last
  -R <n>                 rounds (default 1)
  -V                     one line per finished request
  --api <name>           seed003 (POST /start_job + GET /get_job, default), v1 (POST /v1/jobs
                         + GET /v1/jobs/{id}/result), sync (POST /v1/remove), task (POST /predict
                         + GET /tasks/{id})
  --group <k>            k images per request through POST /v1/groups (seed 000: -N 10 --group 40)
  --host <name>          proxy host (default localhost)
  --port <n>             proxy port (default 5000)
  --in_images_dir <dir>  images to send, used in turn (default ./in_images, else the
                         repository's test/fixtures/images)
  --report <file.html>   also write a page with the table and latency charts
  --json                 print the summary as one JSON line instead of the table
  --api_key <key>        sent as X-Api-Token when the proxy has API keys on
  --timeout <seconds>    give up on one request after this long (default 300)
  --help                 show this help

Exit code: 0 when every request succeeded, 1 when any failed, 2 for a bad command line.
`;

const FLAGS = {
  requests: { type: 'string', short: 'N', default: '1' },
  interval: { type: 'string', short: 'T' },
  rounds: { type: 'string', short: 'R', default: '1' },
  verbose: { type: 'boolean', short: 'V', default: false },
  api: { type: 'string', default: 'seed003' },
  group: { type: 'string' },
  host: { type: 'string', default: 'localhost' },
  port: { type: 'string', default: '5000' },
  in_images_dir: { type: 'string' },
  report: { type: 'string' },
  json: { type: 'boolean', default: false },
  api_key: { type: 'string' },
  timeout: { type: 'string', default: '300' },
  help: { type: 'boolean', default: false },
} as const;

function whole(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`);
  return value;
}

function seconds(flag: string, text: string, min: number, max: number): number {
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected seconds from ${min} to ${max}, e.g. 0.5`);
  return Math.round(value * 1000);
}

function apiOf(text: string): ApiName {
  if ((APIS as readonly string[]).includes(text)) return text as ApiName;
  throw new UsageError(`--api ${JSON.stringify(text)}: expected one of ${APIS.join(', ')}`);
}


/** Parses argv (without node and the script); throws UsageError for unknown flags and bad values. */
export function parseLoadArgs(argv: readonly string[], cwdHasInImages = existsSync('in_images')): ParsedLoadArgs {
  const v = readFlags(argv, FLAGS);
  if (v.help) return { help: true };
  const group = v.group === undefined ? undefined : whole('--group', v.group, 1, 10_000);
  const api = apiOf(v.api);
  // Groups are a /v1 call; asking for them through another API is a contradiction, not a default.
  if (group !== undefined && argv.includes('--api') && api !== 'v1') throw new UsageError(`--group sends POST /v1/groups; it cannot be combined with --api ${api}`);
  if (v.host.trim() === '') throw new UsageError('--host must not be empty');
  return {
    help: false,
    options: {
      host: v.host,
      port: whole('--port', v.port, 1, 65_535),
      requests: whole('-N', v.requests, 1, 100_000),
      intervalMs: v.interval === undefined ? undefined : seconds('-T', v.interval, 0, 86_400),
      rounds: whole('-R', v.rounds, 1, 100_000),
      verbose: v.verbose,
      api: group === undefined ? api : 'v1',
      group,
      inImagesDir: v.in_images_dir ?? (cwdHasInImages ? 'in_images' : SAMPLE_IMAGES),
      reportFile: v.report,
      json: v.json,
      apiKey: v.api_key,
      timeoutMs: seconds('--timeout', v.timeout, 1, 86_400),
    },
  };
}
