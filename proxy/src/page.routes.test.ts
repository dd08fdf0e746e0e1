import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { call, useProxyTestbed } from './app-harness.js';
import { isPagePath, loadPage } from './page.routes.js';

const bed = useProxyTestbed({ width: 4, height: 4, channels: 3, background: '#336699' });
const KEY = 'page-routes-key-0123456789';

/**
 * The status of a conditional GET as a browser sends it from its cache. Not fetch: a fetch with
 * If-None-Match also sends Cache-Control: no-cache (the Fetch standard), which rules out a 304.
 */
function revalidate(url: string, etag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { 'If-None-Match': etag } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).once('error', reject);
  });
}

/** The page's script, stylesheet and icon paths as the HTML names them. */
function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/page\/[^"]+)"/g)].map((m) => m[1]!);
}

test('GET / is the upload page: revalidated HTML with an ETag, a CSP, and the limit filled in', async () => {
  const proxy = await bed.start({ keyPrefix: 'page-html:', limits: { maxImageBytes: 123_456, maxImagePixels: 1_000_000 } });
  const page = await fetch(`${proxy.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
  const html = await page.text();
  assert.match(html, /<input[^>]+type="file" name="file"[^>]+multiple/);
  assert.match(html, /name="cutout-max-image-bytes" content="123456"/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from elsewhere');
  const etag = page.headers.get('etag');
  assert.ok(etag);
  assert.equal(await revalidate(`${proxy.url}/`, etag), 304, 'an unchanged page is not sent again');
});

test('the page’s files live under a hashed path, are cached for good, and answer 304 to their ETag', async () => {
  const proxy = await bed.start({ keyPrefix: 'page-assets:' });
  const paths = assetPaths(await (await fetch(`${proxy.url}/`)).text());
  assert.ok(paths.some((p) => p.endsWith('/main.js')) && paths.some((p) => p.endsWith('/page.css')), `assets: ${paths.join(', ')}`);
  for (const path of paths) {
    const file = await fetch(`${proxy.url}${path}`);
    assert.equal(file.status, 200, path);
    assert.equal(file.headers.get('cache-control'), 'public, max-age=31536000, immutable', path);
    assert.equal(await revalidate(`${proxy.url}${path}`, file.headers.get('etag') ?? ''), 304, path);
  }
  const main = paths.find((p) => p.endsWith('/main.js'))!;
  assert.match((await fetch(`${proxy.url}${main}`)).headers.get('content-type') ?? '', /^text\/javascript/);
  // An old or made-up hash is not this build: 404, never today's file under yesterday's name.
  const stale = await call(`${proxy.url}${main.replace(/\/page\/[^/]+\//, '/page/000000000000/')}`);
  assert.equal(stale.status, 404);
});

test('with API keys on, the page and its files need no key while the API still does', async () => {
  const proxy = await bed.start({ keyPrefix: 'page-keys:', apiKeys: [{ name: 'tester', key: KEY }] });
  const page = await fetch(`${proxy.url}/`);
  assert.equal(page.status, 200);
  for (const path of assetPaths(await page.text())) assert.equal((await fetch(`${proxy.url}${path}`)).status, 200, path);
  const api = await call(`${proxy.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
  assert.equal(api.status, 401);
  assert.equal(isPagePath('POST', '/'), false, 'POST / is the Vision-style API, which needs a key');
});

test('the whole page is small: HTML, CSS, scripts and icon under 64 KB before compression', () => {
  const page = loadPage(1);
  assert.ok(page, '@cutout/web is built');
  assert.ok(page.totalBytes < 64 * 1024, `the page is ${page.totalBytes} bytes`);
});
