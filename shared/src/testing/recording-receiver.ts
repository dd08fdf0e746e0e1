import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a recording receiver saw. */
export interface SeenDelivery {
  headers: IncomingHttpHeaders;
  body: string;
  /** When its body had arrived (ms since the epoch). */
  at: number;
  /** When the caller gave up on it and the connection closed; null while open (never set for an answered one before its close). */
  closedAt: number | null;
}

/**
 * A callback receiver on 127.0.0.1 that records every delivery and answers each 200 at once, or
 * never (the dead receiver of the fairness scenarios): the caller's attempt then ends only by its
 * own deadline, which `closedAt` records.
 */
export async function recordingReceiver(answers: boolean): Promise<{ url: string; seen: SeenDelivery[]; stop: () => Promise<void> }> {
  const seen: SeenDelivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const one: SeenDelivery = { headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now(), closedAt: null };
      seen.push(one);
      res.on('close', () => (one.closedAt ??= Date.now()));
      if (answers) res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const stop = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url, seen, stop };
}
