import { readFlags, UsageError } from '../cli/flags.js';

export { UsageError };

/** What the CLI was asked to do, checked and converted to the units the runner uses. */
export interface RequestOptions {
  host: string;
  port: number;
  inImagesDir: string;
  outImagesDir: string;
  nPollings: number;
  pollIntervalMs: number;
  concurrency: number;
  debug: boolean;
}

export type ParsedArgs = { help: true } | { help: false; options: RequestOptions };


export const USAGE = `Usage: cutout-request [options]

Sends every image in a folder to the cutout proxy, polls until each job is done,
and writes one transparent PNG per image.

Options:
  --host <name>            proxy host (default: localhost)
  --port <number>          proxy port (default: 5000)
  --in_images_dir <dir>    folder of .jpg .jpeg .png .webp files (default: in_images)
  --out_images_dir <dir>   where <name>.png cutouts are written (default: out_images)
  --n_pollings <number>    polling rounds before giving up (default: 100)
  --poll_interval <secs>   seconds per polling round; polls wait on the proxy for
                           what is left of the round, so results come at once (default: 1)
  --concurrency <number>   uploads and polls in flight at once (default: 4)
  --debug                  print the options and every request and answer
  --help                   show this help

Exit code: 0 when every image succeeded, 1 otherwise, 2 for a bad command line.
`;

// Flag names keep request.py's snake_case so existing scripts keep working.
const FLAGS = {
  host: { type: 'string', default: 'localhost' },
  port: { type: 'string', default: '5000' },
  in_images_dir: { type: 'string', default: 'in_images' },
  out_images_dir: { type: 'string', default: 'out_images' },
  n_pollings: { type: 'string', default: '100' },
  poll_interval: { type: 'string', default: '1' },
  concurrency: { type: 'string', default: '4' },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

function seconds(flag: string, text: string, max: number): number {
  const value = /^\d+(\.\d+)?$|^\.\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isFinite(value) || value > max) {
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a number of seconds from 0 to ${max}, e.g. 0.5`);
  }
  return Math.round(value * 1000);
}

function nonEmpty(flag: string, text: string): string {
  if (text.trim() === '') throw new UsageError(`--${flag} must not be empty`);
  return text;
}


/** Parses argv (without node and the script); throws UsageError for unknown flags and bad values. */
export function parseRequestArgs(argv: readonly string[]): ParsedArgs {
  const values = readFlags(argv, FLAGS);
  if (values.help) return { help: true };
  return {
    help: false,
    options: {
      host: nonEmpty('host', values.host),
      port: integer('port', values.port, 1, 65535),
      inImagesDir: nonEmpty('in_images_dir', values.in_images_dir),
      outImagesDir: nonEmpty('out_images_dir', values.out_images_dir),
      nPollings: integer('n_pollings', values.n_pollings, 1, 1_000_000),
      pollIntervalMs: seconds('poll_interval', values.poll_interval, 3600),
      concurrency: integer('concurrency', values.concurrency, 1, 256),
      debug: values.debug,
    },
  };
}

/** http://host:port, with an IPv6 literal put in brackets. */
export function proxyBaseUrl(options: Pick<RequestOptions, 'host' | 'port'>): string {
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  return `http://${host}:${options.port}`;
}
