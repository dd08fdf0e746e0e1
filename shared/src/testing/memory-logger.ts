import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../logger.js';

export type LogLine = Record<string, unknown> & { message: string; level: string };

/** A debug-level JSON logger whose lines land in memory, so a test can read what a service logged. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text.trim()) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}
