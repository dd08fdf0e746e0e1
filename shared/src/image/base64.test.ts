import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AppError } from '../errors.js';
import { decodeBase64Image, decodeBase64Upload } from './base64.js';

function rejects(text: string, code: string, label = text.slice(0, 40)): void {
  assert.throws(
    () => decodeBase64Image(text),
    (error: unknown) => {
      assert.ok(error instanceof AppError, `${label}: an AppError`);
      assert.equal(error.status, 400, label);
      assert.equal(error.code, code, label);
      assert.ok(error.message.length > 20, `${label}: the message explains the fix`);
      return true;
    },
    label,
  );
}

// 1000 bytes: no remainder-free length, so padding shows up in the encodings below.
const bytes = randomBytes(1000);
const standard = bytes.toString('base64');

test('decodes standard base64 with and without padding', () => {
  assert.ok(standard.endsWith('='), 'the sample needs padding');
  assert.deepEqual(decodeBase64Image(standard), bytes);
  assert.deepEqual(decodeBase64Image(standard.replace(/=+$/, '')), bytes);
});

test('decodes the URL-safe alphabet with and without padding', () => {
  const urlSafe = bytes.toString('base64url');
  assert.match(urlSafe, /[-_]/, 'the sample uses the URL-safe characters');
  assert.deepEqual(decodeBase64Image(urlSafe), bytes);
  assert.deepEqual(decodeBase64Image(`${urlSafe}${'='.repeat((4 - (urlSafe.length % 4)) % 4)}`), bytes);
});

test('ignores line breaks and white space the way `base64` wraps its output', () => {
  const wrapped = standard.replace(/.{76}/g, '$&\n');
  assert.ok(wrapped.includes('\n'));
  assert.deepEqual(decodeBase64Image(wrapped), bytes);
  assert.deepEqual(decodeBase64Image(`  ${standard.replace(/.{64}/g, '$&\r\n')}\r\n`), bytes);
  assert.deepEqual(decodeBase64Image(standard.replace(/.{10}/g, '$& \t')), bytes);
});

test('accepts a data:image/...;base64, prefix', () => {
  for (const prefix of ['data:image/png;base64,', 'data:image/jpeg;base64,', 'DATA:IMAGE/WEBP;BASE64,', 'data:image/png;charset=binary;base64,']) {
    assert.deepEqual(decodeBase64Image(`${prefix}${standard}`), bytes, prefix);
  }
  assert.deepEqual(decodeBase64Image(`data:image/jpeg;base64,\n${standard.replace(/.{76}/g, '$&\n')}`), bytes);
});

test('refuses anything that is not base64', () => {
  rejects('this is *not* base64!', 'INVALID_BASE64');
  rejects(`${standard.slice(0, 100)}!${standard.slice(100)}`, 'INVALID_BASE64', 'one bad character');
  rejects(`${standard.slice(0, 100)}\u00e9${standard.slice(100)}`, 'INVALID_BASE64', 'non-ASCII');
  rejects('ab+_cd/-', 'INVALID_BASE64', 'mixed alphabets');
  rejects('QUJD==REVG', 'INVALID_BASE64', 'padding in the middle');
  rejects('QUJDRA===', 'INVALID_BASE64', 'too much padding');
  rejects('QUJDR', 'INVALID_BASE64', 'one character over a quad');
  rejects('QUI=Q', 'INVALID_BASE64', 'data after the padding');
  rejects('{"image": "QUJD"}', 'INVALID_BASE64', 'JSON pasted in');
});

test('refuses data URLs that are not base64 images', () => {
  rejects(`data:text/plain;base64,${standard}`, 'INVALID_BASE64', 'text data URL');
  rejects(`data:image/png,${standard}`, 'INVALID_BASE64', 'not base64-encoded');
  rejects('data:image/png;base64', 'INVALID_BASE64', 'no comma');
});

test('an empty image is EMPTY_IMAGE, not INVALID_BASE64', () => {
  rejects('', 'EMPTY_IMAGE', 'empty string');
  rejects(' \n\t\r\n ', 'EMPTY_IMAGE', 'white space only');
  rejects('data:image/png;base64,', 'EMPTY_IMAGE', 'prefix only');
});

test('decodes a 20 MiB image, wrapped or not, to the same bytes', () => {
  const big = randomBytes(20 * 1024 * 1024);
  const text = big.toString('base64');
  assert.ok(decodeBase64Image(text).equals(big));
  assert.ok(decodeBase64Image(text.replace(/.{76}/g, '$&\n')).equals(big));
  rejects(`${text}#`, 'INVALID_BASE64', 'junk at the very end');
});

test('decodeBase64Upload reuses canonical text and canonicalises everything else', () => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x10]);
  const canonical = bytes.toString('base64');
  assert.equal(decodeBase64Upload(canonical).base64, canonical);
  for (const variant of [`data:image/png;base64,${canonical}`, canonical.replace(/=+$/, ''), bytes.toString('base64url'), `${canonical.slice(0, 4)}\n${canonical.slice(4)}`]) {
    const decoded = decodeBase64Upload(variant);
    assert.deepEqual(decoded.bytes, bytes, variant);
    assert.equal(decoded.base64, canonical, variant);
  }
});
