export interface LogFormatOptions {
  /** Compact human lines; false passes JSON through so log tools can still parse every line. */
  pretty: boolean;
  /** ANSI colours; only ever true on a terminal. */
  color: boolean;
}

export const SERVICE_NAMES = ['stack', 'redis', 'predict', 'batch', 'proxy'] as const;
const NAME_WIDTH = Math.max(...SERVICE_NAMES.map((n) => n.length));

const SERVICE_COLORS: Record<string, string> = { stack: '1', redis: '31', predict: '35', batch: '36', proxy: '32' };
const LEVEL_COLORS: Record<string, string> = { error: '31', warn: '33', info: '32', http: '34', debug: '90', verbose: '90', silly: '90' };

// Fields already shown in the prefix, the time column or the message itself.
const SHOWN = new Set(['service', 'level', 'message', 'timestamp']);

function paint(color: boolean, code: string | undefined, text: string): string {
  return color && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** HH:MM:SS.mmm of an ISO timestamp, local time; the date only adds noise on a live console. */
function clock(timestamp: unknown): string {
  const date = typeof timestamp === 'string' ? new Date(timestamp) : new Date();
  const valid = Number.isNaN(date.getTime()) ? new Date() : date;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(valid.getHours())}:${pad(valid.getMinutes())}:${pad(valid.getSeconds())}.${pad(valid.getMilliseconds(), 3)}`;
}

/** `12:00:01.123 info  message key=value ...` from one winston JSON object. */
export function compactJson(entry: Record<string, unknown>, color: boolean): string {
  const level = typeof entry.level === 'string' ? entry.level : 'info';
  const message = typeof entry.message === 'string' ? entry.message : formatValue(entry.message ?? '');
  const rest = Object.entries(entry)
    .filter(([key, value]) => !SHOWN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  const stack = typeof entry.stack === 'string' ? entry.stack : undefined;
  const fields = rest.filter((f) => !f.startsWith('stack='));
  const head = `${clock(entry.timestamp)} ${paint(color, LEVEL_COLORS[level], level.padEnd(5))} ${message}`;
  const line = fields.length > 0 ? `${head} ${fields.join(' ')}` : head;
  // A stack trace reads better on its own lines than as one escaped string.
  return stack ? `${line}\n${stack}` : line;
}

/**
 * One output line (or, for a stack trace, a few) for one line a service printed. Pretty: a padded,
 * coloured name then the compact rendering. Not pretty: JSON lines pass through (tagged with the
 * service when they lack it) and plain text is wrapped as a JSON line, so the stream stays JSON.
 */
export function formatLogLine(service: string, line: string, stream: 'stdout' | 'stderr', options: LogFormatOptions): string {
  const entry = parseObject(line);
  if (!options.pretty) {
    if (entry) return typeof entry.service === 'string' ? line : JSON.stringify({ service, ...entry });
    const level = stream === 'stderr' ? 'error' : 'info';
    return JSON.stringify({ service, level, message: line, timestamp: new Date().toISOString() });
  }
  const prefix = `${paint(options.color, SERVICE_COLORS[service], service.padEnd(NAME_WIDTH))} |`;
  const body = entry ? compactJson(entry, options.color) : line;
  return body
    .split('\n')
    .map((part) => `${prefix} ${part}`)
    .join('\n');
}

/** Splits a byte stream into lines; the last partial line waits for more data or `flush`. */
export class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    for (const part of parts) this.onLine(part.replace(/\r$/, ''));
  }

  flush(): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
  }
}
