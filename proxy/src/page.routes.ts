import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router, type Request, type Response } from 'express';

/** Where the page's files are served; the next path segment is a hash of all of them. */
export const PAGE_ASSETS = '/page';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Everything comes from this server: no CDN, fonts or remote scripts. Images are also blob: URLs
// (the thumbnails and cutouts); inline styles are not needed (the page sets CSS variables from script).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export interface PageFiles {
  /** The HTML for GET /, with the asset paths and limits filled in. */
  readonly html: Asset;
  /** File name → content, for GET /page/<hash>/<name>. */
  readonly assets: ReadonlyMap<string, Asset>;
  readonly hash: string;
  /** Bytes of everything a first visit loads (HTML, CSS, scripts, icon), uncompressed. */
  readonly totalBytes: number;
}

const etagOf = (body: Buffer) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
const asset = (body: Buffer, type: string): Asset => ({ body, type, etag: etagOf(body) });

/** The @cutout/web package's folder: static/ holds HTML and CSS, dist/ the compiled scripts. */
function webFolder(): string {
  return dirname(createRequire(import.meta.url).resolve('@cutout/web/package.json'));
}

/** Reads the page once; undefined when @cutout/web has not been built yet. */
export function loadPage(maxImageBytes: number, folder = webFolder()): PageFiles | undefined {
  const dist = join(folder, 'dist');
  if (!existsSync(join(dist, 'main.js'))) return undefined;
  const assets = new Map<string, Asset>();
  const add = (dir: string, name: string) => {
    const type = TYPES[name.slice(name.lastIndexOf('.'))];
    if (type !== undefined) assets.set(name, asset(readFileSync(join(dir, name)), type));
  };
  for (const name of readdirSync(join(folder, 'static')).sort()) add(join(folder, 'static'), name);
  for (const name of readdirSync(dist).sort()) if (name.endsWith('.js')) add(dist, name);
  // One hash over every file: the modules import each other by relative path, so they must all
  // come from the same folder, and any change to any of them moves the whole folder.
  const digest = createHash('sha256');
  for (const [name, file] of assets) digest.update(`${name}\0${file.etag}\0`);
  const hash = digest.digest('base64url').slice(0, 12).replaceAll(/[-_]/g, 'x');
  const template = readFileSync(join(folder, 'static', 'index.html'), 'utf8');
  const html = asset(Buffer.from(template.replaceAll('%ASSETS%', `${PAGE_ASSETS}/${hash}`).replaceAll('%MAX_IMAGE_BYTES%', String(maxImageBytes))), 'text/html; charset=utf-8');
  let totalBytes = html.body.length;
  for (const [, file] of assets) totalBytes += file.body.length;
  return { html, assets, hash, totalBytes };
}

function send(req: Request, res: Response, file: Asset, cacheControl: string): void {
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('ETag', file.etag);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  res.type(file.type).send(file.body);
}

/**
 * GET / (the upload page, CONTRACT §8) and its files. The HTML is revalidated on every visit
 * (no-cache + ETag); the files live under a path with their hash in it, so they are cached for
 * good and a new build is fetched because the HTML names a new path.
 */
export function pageRoutes(options: { maxImageBytes: number; files?: PageFiles }): Router {
  const router = Router();
  const page = options.files ?? loadPage(options.maxImageBytes);
  router.get('/', (req, res) => {
    if (page === undefined) {
      res.status(503).type('text/plain').send('The upload page is not built yet: run "npm run build" in the repository, then restart the proxy.\n');
      return;
    }
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    send(req, res, page.html, 'no-cache');
  });
  router.get(`${PAGE_ASSETS}/:hash/:name`, (req, res, next) => {
    const file = req.params.hash === page?.hash ? page.assets.get(req.params.name) : undefined;
    if (file === undefined) return next();
    send(req, res, file, 'public, max-age=31536000, immutable');
  });
  return router;
}

/** The page and its files need no API key: the page asks for one when the API does. */
export function isPagePath(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && (path === '/' || path.startsWith(`${PAGE_ASSETS}/`));
}
