import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGate } from './gate.js';

test('past PREDICT_MAX_INFLIGHT a /predict call is 429 PREDICT_BUSY with Retry-After; a slot frees when an answer ends', async () => {
  const gate = createGate({ token: '', maxInflight: 2 });
  const release: Array<() => void> = [];
  const server = createServer((req, res) => {
    if (gate(req, res)) return;
    release.push(() => res.end('done'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/predict`;
  try {
    const held = [fetch(url, { method: 'POST' }), fetch(url, { method: 'POST' })];
    while (release.length < 2) await new Promise((r) => setTimeout(r, 10));
    const busy = await fetch(url, { method: 'POST' });
    assert.equal(busy.status, 429);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'PREDICT_BUSY');
    release.shift()!();
    await held[0];
    const next = fetch(url, { method: 'POST' });
    while (release.length < 2) await new Promise((r) => setTimeout(r, 10));
    for (const r of release.splice(0)) r();
    assert.equal((await next).status, 200);
    await held[1];
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
