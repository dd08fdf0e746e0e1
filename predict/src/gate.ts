import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '@cutout/shared';

export interface GateOptions {
  /** PREDICT_TOKEN; empty: no token is asked for. */
  token: string;
  /** PREDICT_MAX_INFLIGHT. */
  maxInflight: number;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function refuse(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(errorBody(code, message));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/**
 * What every request to predict passes first. With PREDICT_TOKEN set, anything but /health needs
 * it (batch sends it; nobody else should call predict, which bypasses the queue). And predict
 * works on at most PREDICT_MAX_INFLIGHT images at once: a caller sending many 50-megapixel images
 * in parallel gets 429 rather than exhausting predict's memory. Returns true when it answered.
 */
export function createGate(options: GateOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const expected = options.token === '' ? null : digest(options.token);
  let inflight = 0;
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/health') return false;
    if (expected !== null) {
      const header = req.headers['x-predict-token'];
      const given = typeof header === 'string' ? header : /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        refuse(res, 401, 'UNAUTHENTICATED', 'predict needs PREDICT_TOKEN (X-Predict-Token or Authorization: Bearer); only batch should call it');
        return true;
      }
    }
    if (path !== '/predict') return false;
    if (inflight >= options.maxInflight) {
      refuse(res, 429, 'PREDICT_BUSY', `predict is already working on ${options.maxInflight} images (PREDICT_MAX_INFLIGHT); try again shortly`, { 'Retry-After': '1' });
      return true;
    }
    inflight++;
    res.once('close', () => inflight--);
    return false;
  };
}
