import winston from 'winston';

const SECRET_KEYS = /^(authorization|cookie|x-api-token|password|token|image|img_in_base64|img_out_base64)$/i;

/** Drops secrets and image payloads from a log line, at any depth. */
const redact = winston.format((info) => {
  const scrub = (value: unknown, depth: number): unknown => {
    if (depth > 4 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEYS.test(key) ? '[redacted]' : scrub(v, depth + 1);
    return out;
  };
  for (const key of Object.keys(info)) {
    info[key] = SECRET_KEYS.test(key) ? '[redacted]' : scrub(info[key], 1);
  }
  return info;
});

export type Logger = winston.Logger;

/** A JSON logger for one service: one object per line on stdout. */
export function createLogger(service: string, level: string): Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
  return skipDisabledLevels(logger);
}

/**
 * winston runs every call through the formats (the redaction's walk, the timestamp, JSON) and
 * only then lets the transport drop it for its level: at LOG_LEVEL=warn each request's access-log
 * line and each job's info lines were still built and thrown away. Calls below the level now
 * return at once; the level is read on each call, so changing it later still works.
 */
function skipDisabledLevels(logger: Logger): Logger {
  for (const name of Object.keys(logger.levels)) {
    const write = (logger as unknown as Record<string, (...args: unknown[]) => Logger>)[name];
    if (typeof write !== 'function') continue;
    Object.defineProperty(logger, name, {
      configurable: true,
      writable: true,
      // `this`, as winston's own methods do, so a child logger (Object.create of this one) keeps its fields.
      value: function (this: Logger | undefined, ...args: unknown[]) {
        const self = this ?? logger;
        return self.isLevelEnabled(name) ? write.apply(self, args) : self;
      },
    });
  }
  return logger;
}
