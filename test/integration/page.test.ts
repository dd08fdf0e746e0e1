import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { axeViolations, chromiumMissing, launchChromium, outputDir, type Browser } from '../support/browser.js';
import { IMAGES_DIR } from '../support/fixtures.js';
import { startInProcessProxy, type InProcessProxy } from '../support/in-process-proxy.js';
import { startTestStack, type TestStack } from '../support/stack.js';

// The upload page (CONTRACT §8) in Debian's Chromium against the real stack. The stack's
// MAX_IMAGE_BYTES sits between the photos that must go through and the one that must not.
const MAX_IMAGE_BYTES = 400_000;
const PHOTOS = ['girl-1.jpg', 'car-1.jpg'];
const OVERSIZED = 'plants-1.jpg';
const API_KEY = 'page-test-key-0123456789';
const FINISH_TIMEOUT_MS = 180_000;

const skip = chromiumMissing();
if (skip) console.log(`# page tests skipped: ${skip}`);

let stack: TestStack;
let keyed: InProcessProxy;
let browser: Browser;
const shots = outputDir('page');

before(async () => {
  if (skip) return;
  stack = await startTestStack({ keyPrefix: 'it-page:', env: { MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) } });
  // A second proxy with keys on, over a prefix no worker serves: its jobs stay QUEUED.
  keyed = await startInProcessProxy({ redisUrl: stack.redisUrl, keyPrefix: 'it-page-keyed:', apiKeys: [{ name: 'tester', key: API_KEY }] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await keyed?.close();
  await stack?.stop();
});

/** Console errors and uncaught exceptions on a page, except the ones `expected` matches. */
function watchErrors(page: Page, expected: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !expected.some((re) => re.test(message.text()))) errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

async function orientedSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  return (meta.orientation ?? 1) >= 5 ? { width: meta.height!, height: meta.width! } : { width: meta.width!, height: meta.height! };
}

test('two photos through the file input: both finish, a cutout downloads as an RGBA PNG of the right size, axe finds nothing', { skip, timeout: FINISH_TIMEOUT_MS + 60_000 }, async () => {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  const response = await page.goto(`${stack.proxyUrl}/`);
  assert.equal(response?.status(), 200);
  assert.equal(response?.headers()['cache-control'], 'no-cache', 'the HTML is revalidated on each visit');
  assert.ok(response?.headers()['etag'], 'the HTML has an ETag');
  await page.screenshot({ path: join(shots, '1-empty.png'), fullPage: true });

  await page.setInputFiles('input[type=file][name=file]', PHOTOS.map((name) => join(IMAGES_DIR, name)));
  // Each image appears at once, before its upload has been answered.
  await page.locator('.card').nth(PHOTOS.length - 1).waitFor();
  // A locator waits without evaluating strings, which the page's CSP forbids.
  await page.locator('[data-job-id][data-status=SUCCEEDED] a[download]').nth(PHOTOS.length - 1).waitFor({ timeout: FINISH_TIMEOUT_MS });
  assert.equal(await page.locator('.card').count(), PHOTOS.length);
  const ids = await Promise.all((await page.locator('[data-job-id]').all()).map((card) => card.getAttribute('data-job-id')));
  assert.equal(new Set(ids).size, PHOTOS.length, 'each image has its own job id');
  assert.match((await page.textContent('.card .meta')) ?? '', /\d+×\d+ · .*B · took \d/, 'size and time taken are shown');
  await page.screenshot({ path: join(shots, '2-done.png'), fullPage: true });

  // The before/after slider works from the keyboard.
  const slider = page.locator('.card .slider').first();
  await slider.focus();
  await page.keyboard.press('Home');
  assert.equal(await page.locator('.card .stage').first().getAttribute('style'), '--split: 0%;');
  await page.screenshot({ path: join(shots, '3-slider-left.png'), fullPage: true });

  const card = page.locator('[data-status=SUCCEEDED]').first();
  const name = (await card.locator('.name').textContent()) ?? '';
  const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a[download]').click()]);
  assert.equal(download.suggestedFilename(), name.replace(/\.jpg$/, '-cutout.png'));
  const png = readFileSync(await download.path());
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.channels, 4, 'RGBA');
  assert.equal(meta.depth, 'uchar', '8 bits a channel');
  assert.deepEqual({ width: meta.width, height: meta.height }, await orientedSize(readFileSync(join(IMAGES_DIR, name))), `the size of ${name}`);

  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core: ${JSON.stringify(violations, null, 1)}`);
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('an oversized file shows the API’s words for it and gets no job', { skip, timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  // Chromium logs every 4xx answer to the console; this one is the point of the test.
  const errors = watchErrors(page, [/status of 413/]);
  await page.goto(`${stack.proxyUrl}/`);
  await page.setInputFiles('input[type=file][name=file]', join(IMAGES_DIR, OVERSIZED));
  const error = page.locator('.card[data-phase=REJECTED] .error');
  await error.waitFor();
  const text = (await error.textContent()) ?? '';
  assert.match(text, /^Too large/);
  assert.match(text, /MAX_IMAGE_BYTES/, 'the API’s message, which names the limit');
  assert.equal(await page.locator('.card[data-job-id]').count(), 0, 'no job was made');
  assert.match((await page.textContent('[data-limit]')) ?? '', /up to 391 KB/, 'the limit is shown under the drop zone');
  await page.screenshot({ path: join(shots, '4-too-large.png'), fullPage: true });
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe-core: ${JSON.stringify(violations, null, 1)}`);
  assert.deepEqual(errors, [], 'no other console errors');
  await page.close();
});

test('with API keys on, the page asks for a key once, keeps it, and sends it', { skip, timeout: 60_000 }, async () => {
  const page = await browser.newPage();
  const errors = watchErrors(page, [/status of 401/]);
  await page.goto(`${keyed.url}/`);
  await page.setInputFiles('input[type=file][name=file]', join(IMAGES_DIR, PHOTOS[0]!));
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await page.screenshot({ path: join(shots, '5-key-dialog.png'), fullPage: true });
  await page.getByLabel('Your API key').fill(API_KEY);
  await page.getByRole('button', { name: 'Use this key' }).click();
  await page.locator('[data-job-id][data-status=QUEUED]').waitFor();
  const stored = await page.context().storageState();
  const origin = stored.origins.find((o) => o.origin === keyed.url);
  assert.equal(origin?.localStorage.find((entry) => entry.name === 'cutout.apiKey')?.value, API_KEY, 'the key is kept in localStorage');

  // After a reload the kept key is sent at once: no second prompt.
  await page.reload();
  await page.setInputFiles('input[type=file][name=file]', join(IMAGES_DIR, PHOTOS[1]!));
  await page.locator('[data-job-id][data-status=QUEUED]').waitFor();
  assert.equal(await page.locator('dialog[open]').count(), 0, 'the key is not asked for again');
  const queued = await keyed.redis.lRange('it-page-keyed:job_id', 0, -1);
  assert.equal(queued.length, 2, 'both uploads were queued with the key');
  assert.deepEqual(errors, [], 'no console errors besides the first 401');
  await page.close();
});
