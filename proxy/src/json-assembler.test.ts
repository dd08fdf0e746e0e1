import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import streamJsonParser from 'stream-json/parser.js';
import { AppError } from '@cutout/shared';
import { JsonAssembler, OversizedImage, type AssemblerRules, type JsonToken } from './json-assembler.js';

const GROUP_RULES: AssemblerRules = {
  isImage: (path) => path.length === 2 && path[0] === 'images',
  maxImageChars: 100,
  list: { path: ['images'], max: 3, tooMany: () => new AppError(413, 'TOO_MANY_IMAGES', 'too many') },
};

/** The body through stream-json's parser (in small pieces, as a socket gives them) and the assembler. */
async function assemble(text: string, rules: AssemblerRules = GROUP_RULES, pieceBytes = 7): Promise<unknown> {
  const bytes = Buffer.from(text);
  const pieces = Array.from({ length: Math.ceil(bytes.length / pieceBytes) }, (_, i) => bytes.subarray(i * pieceBytes, (i + 1) * pieceBytes));
  const parser = Readable.from(pieces).pipe(streamJsonParser.asStream({ packValues: false, streamValues: true }));
  const assembler = new JsonAssembler(rules);
  for await (const token of parser) assembler.push(token as JsonToken);
  return assembler.value;
}

test('builds what JSON.parse builds, pieces and escapes included', async () => {
  const bodies = [
    '{"images":["aGVsbG8=","d29y\\nbGQ="],"format":"webp","only_mask":true,"bgcolor":null,"deadline_s":1.5e1,"n":-0}',
    '{"requests":[{"image":{"content":"AAAA"},"features":[{"type":"x","score_th":0.25}]}]}',
    '{"a":"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/","b":[[],{},[1,[2,[3]]]],"c":"ünïcødé ✓"}',
    '{"__proto__":{"polluted":1},"constructor":"x"}',
    '{"k":1,"k":2}',
    '"a bare string"',
    '[1,2,3]',
    '  {"images" :  [ "AA==" ]  }  ',
  ];
  for (const body of bodies) assert.deepEqual(await assemble(body), JSON.parse(body), body);
  const proto = (await assemble('{"__proto__":{"polluted":1}}')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype, 'the prototype is untouched');
  assert.ok(Object.hasOwn(proto, '__proto__'));
});

test('an image string past its limit is dropped as it streams and leaves an OversizedImage in its place', async () => {
  const value = (await assemble(JSON.stringify({ images: ['A'.repeat(100), 'B'.repeat(101), 'CC'], format: 'png' }))) as { images: unknown[] };
  assert.equal(value.images[0], 'A'.repeat(100), 'exactly the limit is kept');
  assert.ok(value.images[1] instanceof OversizedImage);
  assert.equal((value.images[1] as OversizedImage).chars, 101);
  assert.equal(value.images[2], 'CC');
});

test('a string that is not an image is held to the small rest of the body', async () => {
  // 1 MiB of anything but images is refused, however the body is laid out.
  await assert.rejects(assemble(JSON.stringify({ images: ['AA'], note: 'x'.repeat(1024 * 1024 + 1) }), GROUP_RULES, 65536), { code: 'BODY_TOO_LARGE', status: 413 });
  await assert.rejects(assemble(JSON.stringify({ images: 'A'.repeat(1024 * 1024 + 1) }), GROUP_RULES, 65536), { code: 'BODY_TOO_LARGE' });
  await assert.rejects(assemble(`{"${'k'.repeat(1024 * 1024 + 1)}":1}`, GROUP_RULES, 65536), { code: 'BODY_TOO_LARGE' });
  await assert.rejects(assemble(`[${'1,'.repeat(200_000)}1]`, GROUP_RULES, 65536), { code: 'BODY_TOO_LARGE' });
});

test('one item past the listed array\'s max is refused as soon as it starts', async () => {
  await assert.rejects(assemble(JSON.stringify({ images: ['A', 'B', 'C', 'D'.repeat(50)] })), { code: 'TOO_MANY_IMAGES' });
  // The same count elsewhere in the body is not the list.
  assert.deepEqual(await assemble(JSON.stringify({ other: [1, 2, 3, 4, 5], images: [[1, 2, 3, 4]] })), { other: [1, 2, 3, 4, 5], images: [[1, 2, 3, 4]] });
});

test('nesting deeper than 32 levels is refused before it costs anything', async () => {
  await assert.rejects(assemble('['.repeat(33) + ']'.repeat(33)), { code: 'INVALID_REQUEST', status: 400 });
  assert.ok(Array.isArray(await assemble('['.repeat(32) + ']'.repeat(32))));
});
