import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Lookup } from '../outbound/url-guard.js';
import { CallbackDeliverer } from './deliverer.js';
import { verifyCallback } from './signature.js';
import { memoryLogger } from '../testing/memory-logger.js';

test('a delivery connects to the address that was checked, whatever the name resolves to later (no DNS rebinding)', async () => {
  const seen: Array<{ host: string | undefined; body: string; signature: string; timestamp: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ host: req.headers.host, body, signature: String(req.headers['x-cutout-signature']), timestamp: String(req.headers['x-cutout-timestamp']) });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The first answer is the receiver on loopback (allowed by name); any later one points elsewhere.
  let lookups = 0;
  const rebinding: Lookup = async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.9', family: 4 }]);
  const settled: string[] = [];
  const record = { id: 'j1', status: 'SUCCEEDED', callbackUrl: `http://receiver.test:${port}/hook`, createdAt: 1, startedAt: 2, finishedAt: 3, attempts: 1, options: { format: 'png', only_mask: false, bgcolor: null, priority: 'normal', deadline_s: null, callback_url: null }, group: null, error: null };
  let claimed = false;
  const deliverer = new CallbackDeliverer({
    outbox: {
      claim: async () => (claimed ? 'none' : ((claimed = true), { entry: 'job:j1', kind: 'job' as const, id: 'j1', attempt: 1 })),
      settle: async (_claim, outcome) => {
        settled.push(outcome);
        return outcome === 'delivered' ? 'delivered' : 'retry';
      },
    },
    jobs: { get: async () => record as never, getGroup: async () => null },
    logger: memoryLogger().logger,
    secrets: { fallback: 'a-secret-of-sixteen+', byKey: new Map() },
    maxAttempts: 3,
    timeoutMs: 2_000,
    allowHosts: new Set(['receiver.test']),
    lookup: rebinding,
    pollMs: 20,
    name: 'test',
  });
  try {
    deliverer.start();
    for (let i = 0; i < 200 && settled.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await deliverer.close();
    server.close();
  }
  assert.deepEqual(settled, ['delivered']);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.host, `receiver.test:${port}`, 'the URL host is kept; only the address is pinned');
  assert.ok(verifyCallback('a-secret-of-sixteen+', seen[0]!.timestamp, seen[0]!.body, seen[0]!.signature));
  assert.equal(JSON.parse(seen[0]!.body).id, 'j1');
  assert.equal(lookups, 1, 'resolved once, for the check, and connected to that answer');
});
