import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
  at: number;
}

/**
 * A real HTTP server on 127.0.0.1 that records every callback delivery. `answer` decides the
 * status of each one (default 200), so a test can fail the first delivery and accept the next.
 */
export class CallbackReceiver {
  readonly deliveries: Delivery[] = [];
  answer: (delivery: Omit<Delivery, 'status'>, index: number) => number = () => 200;
  #server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/cutout`;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        const status = this.answer(seen, this.deliveries.length);
        this.deliveries.push({ ...seen, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Accepted deliveries (2xx), by the X-Cutout-Delivery entry (without the attempt). */
  accepted(): Map<string, Delivery[]> {
    const byEntry = new Map<string, Delivery[]>();
    for (const d of this.deliveries.filter((x) => x.status >= 200 && x.status < 300)) {
      const entry = String(d.headers['x-cutout-delivery'] ?? '').replace(/:\d+$/, '');
      byEntry.set(entry, [...(byEntry.get(entry) ?? []), d]);
    }
    return byEntry;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
