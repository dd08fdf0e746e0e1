import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CATALOGUE, storedModelPath } from '@cutout/predict/models';
import { pullModel, verifyModels, listModels, type Console } from './commands.js';
import { ChecksumMismatchError, InterruptedError, UnreachableError, downloadModel } from './download.js';

/** A "model" the test makes: 300 kB of deterministic bytes (the store checks bytes, not ONNX). */
const MODEL = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919 + (i >> 8)) & 0xff));
const SHA256 = createHash('sha256').update(MODEL).digest('hex');

interface Seen {
  path: string;
  range: string | undefined;
}

/** A real server on 127.0.0.1. `/cut` sends half the file, then drops the connection, once; `/moved` redirects. */
let server: Server;
let base: string;
const seen: Seen[] = [];
let cutOnce = true;

function serve(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ path: req.url ?? '', range: req.headers.range });
  if (req.url === '/moved') {
    res.writeHead(302, { location: '/model.onnx' });
    res.end();
    return;
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  if (start >= MODEL.length) {
    res.writeHead(416, { 'content-range': `bytes */${MODEL.length}` });
    res.end();
    return;
  }
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(MODEL.length - start) };
  if (range) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${MODEL.length - 1}/${MODEL.length}` });
  else res.writeHead(200, headers);
  if (req.url === '/cut' && cutOnce) {
    cutOnce = false;
    // Half the file, then the connection dies: what a dropped Wi-Fi looks like to the client.
    res.write(MODEL.subarray(start, MODEL.length / 2), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(MODEL.subarray(start));
}

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cutout-models-'));
  server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function collector(): Console & { lines: string[]; errors: string[]; drawn: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const drawn: string[] = [];
  return { lines, errors, drawn, out: (l) => lines.push(l), err: (l) => errors.push(l), progress: (t) => drawn.push(t), endProgress: () => undefined };
}

const good = [{ algorithm: 'sha256', hex: SHA256 }] as const;

test('a good file is downloaded, checked and renamed into place; no .partial is left', async () => {
  const target = join(dir, 'good.onnx');
  const digest = await downloadModel({ url: `${base}/moved`, target, checksums: good });
  assert.equal(digest.sha256, SHA256);
  assert.ok(readFileSync(target).equals(MODEL));
  assert.equal(existsSync(`${target}.partial`), false);
});

test('a file with the wrong checksum is deleted and never appears under its name', async () => {
  const target = join(dir, 'bad.onnx');
  await assert.rejects(downloadModel({ url: `${base}/model.onnx`, target, checksums: [{ algorithm: 'md5', hex: '0'.repeat(32) }] }), ChecksumMismatchError);
  assert.equal(existsSync(target), false);
  assert.equal(existsSync(`${target}.partial`), false);
});

test('a connection cut half-way keeps the .partial; the next run asks for the rest with Range and completes', async () => {
  const target = join(dir, 'resumed.onnx');
  seen.length = 0;
  const progress: number[] = [];
  await assert.rejects(downloadModel({ url: `${base}/cut`, target, checksums: good, onProgress: (p) => progress.push(p.received) }), InterruptedError);
  assert.equal(existsSync(target), false);
  const kept = statSync(`${target}.partial`).size;
  assert.ok(kept > 0 && kept < MODEL.length, `kept ${kept} bytes`);
  const resumed: boolean[] = [];
  const digest = await downloadModel({ url: `${base}/cut`, target, checksums: good, onProgress: (p) => resumed.push(p.resumed) });
  assert.equal(digest.sha256, SHA256);
  assert.ok(readFileSync(target).equals(MODEL));
  assert.deepEqual(seen.map((s) => s.range), [undefined, `bytes=${kept}-`]);
  assert.ok(resumed.every(Boolean) && resumed.length > 0, 'the second run reported itself as resumed');
  assert.ok(progress.length > 1 && progress.at(-1)! > 0);
});

test('an unreachable server fails fast with UnreachableError and writes nothing', async () => {
  // A port that was just free: connecting is refused at once.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const target = join(dir, 'offline.onnx');
  await assert.rejects(downloadModel({ url: `http://127.0.0.1:${port}/x.onnx`, target, checksums: good, connectTimeoutMs: 2000 }), UnreachableError);
  assert.equal(existsSync(`${target}.partial`), false);
});

test('pull <preset> --url --sha256: the file lands as <dir>/<preset>.onnx, list and verify see it, then a corrupted copy fails verify', async () => {
  const modelsDir = join(dir, 'store');
  const io = collector();
  assert.equal(await pullModel(modelsDir, { preset: 'u2netp', url: `${base}/model.onnx`, sha256: SHA256, fromNpm: false }, io), 0);
  const path = storedModelPath(modelsDir, 'u2netp');
  assert.ok(readFileSync(path).equals(MODEL));
  assert.ok(io.drawn.some((t) => /pull u2netp \[#+\] 100%/.test(t)), io.drawn.at(-1));
  const listed = collector();
  await listModels(modelsDir, listed);
  // Our bytes are not rembg's u2netp, so list and verify must call it a mismatch against rembg's md5.
  assert.ok(listed.lines.some((l) => l.startsWith('u2netp') && l.includes('MISMATCH') && l.includes(SHA256)), listed.lines.join('\n'));
  assert.ok(listed.lines.some((l) => l.startsWith('u2net ') && l.includes('missing')));
  assert.ok(listed.lines.some((l) => l.startsWith('cutout-graphcut') && l.includes('built in')));
  const verified = collector();
  assert.equal(await verifyModels(modelsDir, [], verified), 1);
  assert.match(verified.errors.join('\n'), /u2netp: .* does not match/);
  writeFileSync(path, MODEL.subarray(0, 1000));
  assert.equal(await verifyModels(modelsDir, ['u2netp'], collector()), 1);
});

test('pull with the published checksum refuses our bytes: exit 1, nothing kept, and the message names the checksum', async () => {
  const modelsDir = join(dir, 'store-published');
  const io = collector();
  assert.equal(await pullModel(modelsDir, { preset: 'silueta', url: `${base}/model.onnx`, fromNpm: false }, io), 1);
  assert.equal(existsSync(storedModelPath(modelsDir, 'silueta')), false);
  assert.match(io.errors.join('\n'), new RegExp(`does not match md5 ${CATALOGUE.silueta!.checksums[0]!.hex}`));
});

test('offline, pull fails fast and says how to put the file in place by hand', async () => {
  const modelsDir = join(dir, 'store-offline');
  const io = collector();
  const started = Date.now();
  assert.equal(await pullModel(modelsDir, { preset: 'u2net', url: 'http://127.0.0.1:1/u2net.onnx', fromNpm: false, connectTimeoutMs: 2000 }, io), 1);
  assert.ok(Date.now() - started < 10_000);
  const message = io.errors.join('\n');
  assert.match(message, /cannot reach 127\.0\.0\.1:1/);
  assert.match(message, new RegExp(`save it as ${storedModelPath(modelsDir, 'u2net').replace(/[.\\/]/g, '\\$&')}`));
  assert.match(message, /md5 60024c5c889badc19c04ad937298a77b/);
});
