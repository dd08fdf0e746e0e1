/**
 * enforceWriteDeadline on a real node:http server and real sockets: a client that stops reading
 * is cut (with the route and request id its response was tagged with); the server's own slowness
 * (a wait before answering, a producer slower than the minimum rate) never counts against a
 * client that reads everything it is given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { enforceWriteDeadline, tagRoute, type CutResponse } from './write-deadline.js';

const FLOOR_MS = 300;
const MIN_RATE = 8 * 1024 * 1024;

async function serve(t: { after: (fn: () => Promise<void>) => void }, listener: RequestListener): Promise<{ server: Server; port: number; cuts: CutResponse[]; watching: () => number }> {
  const server = createServer(listener);
  const cuts: CutResponse[] = [];
  const deadline = enforceWriteDeadline(server, { floorMs: FLOOR_MS, minBytesPerSecond: MIN_RATE, onCut: (cut) => cuts.push(cut), checkEveryMs: 50 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    deadline.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port, cuts, watching: () => deadline.watching };
}

/** GETs `/` and reads everything; resolves with the body's length once the server ends the answer. */
function readAll(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('close', () => {
      const all = Buffer.concat(chunks);
      resolve(all.length - all.indexOf('\r\n\r\n') - 4);
    });
  });
}

test('a client that stops reading a 16 MB answer is cut, with the route and request id the response was tagged with', { timeout: 30_000 }, async (t) => {
  const big = Buffer.alloc(16 * 1024 * 1024, 0x61);
  const { port, cuts } = await serve(t, (_req, res) => {
    tagRoute(res, '/big', 'request-1');
    res.writeHead(200, { 'content-length': big.length });
    res.end(big);
  });
  const socket = connect(port, '127.0.0.1', () => socket.write('GET /big?x=1 HTTP/1.1\r\nHost: x\r\n\r\n'));
  socket.once('data', () => socket.pause());
  socket.on('error', () => undefined);
  // The test's timeout bounds this wait.
  while (cuts.length === 0) await sleep(50);
  socket.destroy();
  const [cut] = cuts;
  assert.deepEqual([cut!.route, cut!.requestId, cut!.method, cut!.path], ['/big', 'request-1', 'GET', '/big?x=1']);
  assert.ok(cut!.bytes > big.length, 'the whole answer was written to the connection');
  assert.ok(cut!.blockedMs > cut!.allowedMs && cut!.allowedMs >= FLOOR_MS);
  t.diagnostic(`cut after ${cut!.blockedMs} ms waiting on the client (allowed ${cut!.allowedMs} ms for ${cut!.bytes} bytes)`);
});

test('time the server takes itself never counts: a long wait before answering, then a producer slower than the minimum rate', { timeout: 30_000 }, async (t) => {
  const piece = Buffer.alloc(64 * 1024, 0x62);
  const pieces = 12;
  const { port, cuts, watching } = await serve(t, (req, res) => {
    if (req.url === '/quick') return void res.end('ok');
    void (async () => {
      // A long poll's wait: far beyond the floor, nothing written.
      await sleep(4 * FLOOR_MS);
      res.writeHead(200, { 'content-length': piece.length * pieces });
      // 768 KiB over ~1.8 s: far under MIN_RATE, so a deadline on wall time would cut it.
      for (let i = 0; i < pieces; i++) {
        res.write(piece);
        await sleep(150);
      }
      res.end();
    })();
  });
  const started = performance.now();
  assert.equal(await readAll(port), piece.length * pieces, 'the whole answer arrived');
  assert.deepEqual(cuts, []);
  // Finished answers are forgotten, keep-alive ones too (a response's 'close' comes a tick after
  // the client may have its last byte, hence the wait; the test's timeout bounds it).
  for (let i = 0; i < 5; i++) await fetch(`http://127.0.0.1:${port}/quick`).then((res) => res.arrayBuffer());
  while (watching() > 0) await sleep(10);
  t.diagnostic(`answered in ${Math.round(performance.now() - started)} ms; allowed for a stalled client: ${FLOOR_MS} ms + size at ${MIN_RATE} B/s`);
});
