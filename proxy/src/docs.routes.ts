import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';

/** The folder of the swagger-ui-dist package: the docs page is served from it, never a CDN. */
function swaggerUiFolder(): string {
  return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cutout API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// A file of its own rather than inline, so the page works under a strict Content-Security-Policy.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui', deepLinking: true });\n`;

/** GET /openapi.json (made once from the contract) and GET /docs (Swagger UI from npm). */
export function docsRoutes(document: Record<string, unknown>): Router {
  const router = Router();
  const json = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/json').send(json);
  });
  router.get('/docs', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT);
  });
  router.use('/docs/assets', express.static(swaggerUiFolder(), { index: false, maxAge: '1d' }));
  return router;
}

/** Paths that need no API key: the health check and the docs page's files. */
export function isPublicPath(method: string, path: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  return path === '/health' || path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');
}
