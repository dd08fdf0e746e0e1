import { createServer } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Runs `start` on a freshly picked port and resolves with what it gives. A picked port is free
 * only when picked: until the server binds it, any process's outgoing connection may get it as
 * its own (the kernel hands out the same ephemeral range). So when `start` fails and `taken`
 * says the port was the reason, another port is picked, up to `picks` times in all.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, taken: (error: unknown) => boolean, picks = 3): Promise<T> {
  for (let pick = 1; ; pick++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      if (pick >= picks || !taken(error)) throw error;
    }
  }
}
