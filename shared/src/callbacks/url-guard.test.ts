import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkCallbackUrl, isPublicAddress, type Lookup } from './url-guard.js';
import { CallbackDeliverer } from './deliverer.js';
import { verifyCallback } from './signature.js';
import { memoryLogger } from '../testing/memory-logger.js';

test('non-public IPv4 and IPv6 addresses are told apart from public ones, IPv4-mapped IPv6 included', () => {
  for (const address of ['127.0.0.1', '127.0.0.2', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '240.0.0.1', '255.255.255.255', '198.18.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '2001:db8::1', '64:ff9b::a00:1']) {
    assert.equal(isPublicAddress(address), false, address);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(isPublicAddress(address), true, address);
  }
  assert.equal(isPublicAddress('not an address'), false);
});

const fixed = (addresses: string[]): Lookup => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

test('a URL is refused when any address its host resolves to is not public, unless the host is allowed by name', async () => {
  const refuse = async (url: string, lookup: Lookup, allow: string[] = []) =>
    assert.rejects(checkCallbackUrl(url, new Set(allow), lookup), (e: { code?: string }) => e.code === 'CALLBACK_URL_FORBIDDEN', url);
  await refuse('http://hooks.example/x', fixed(['10.0.0.5']));
  await refuse('http://hooks.example/x', fixed(['93.184.216.34', '127.0.0.1']));
  await refuse('http://127.0.0.2:9/x', fixed([]));
  await refuse('http://[::1]:9/x', fixed([]));
  await refuse('ftp://hooks.example/x', fixed(['93.184.216.34']));
  await refuse('not a url', fixed([]));
  await refuse('http://nowhere.example/x', async () => {
    throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  });
  const ok = await checkCallbackUrl('https://hooks.example/x', new Set(), fixed(['93.184.216.34']));
  assert.deepEqual([ok.address, ok.family, ok.url.hostname], ['93.184.216.34', 4, 'hooks.example']);
  const allowed = await checkCallbackUrl('http://receiver.internal:8080/x', new Set(['receiver.internal']), fixed(['10.0.0.7']));
  assert.equal(allowed.address, '10.0.0.7');
});

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
      claim: async () => (claimed ? null : ((claimed = true), { entry: 'job:j1', kind: 'job' as const, id: 'j1', attempt: 1 })),
      settle: async (_claim, outcome) => {
        settled.push(outcome);
        return outcome === 'delivered' ? 'delivered' : 'retry';
      },
    },
    jobs: { get: async () => record as never, getGroup: async () => null },
    logger: memoryLogger().logger,
    secret: 'a-secret-of-sixteen+',
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
