import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}

export interface Answer {
  status: number;
  /** Sent as JSON unless it is a string. */
  body: unknown;
}

export interface TinyServer {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A real HTTP server on a free loopback port that answers from `handler`: the stand-in proxy for client tests. */
export async function startTinyServer(handler: (request: Received) => Answer | Promise<Answer>): Promise<TinyServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const request = { method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], body: await readBody(req) };
      received.push(request);
      const answer = await handler(request);
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/html' : 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
