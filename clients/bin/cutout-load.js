#!/usr/bin/env node
// npm links a bin only if its file exists when `npm ci` runs, which is before `npm run build`
// creates dist/; this committed stub always exists and loads the compiled CLI.
try {
  await import('../dist/load/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/load/main.js')) throw error;
  process.stderr.write('cutout-load: the CLI is not built yet; run "npm run build" in the repository first\n');
  process.exit(1);
}
