#!/usr/bin/env node
// npm links a bin only if its file exists when `npm ci` runs, which is before `npm run build`
// creates dist/; this committed stub always exists and loads the compiled CLI.
try {
  await import('../dist/models/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist/models/main.js')) throw error;
  process.stderr.write('cutout-models: the CLI is not built yet; run "npm run build" in the repository first\n');
  process.exit(1);
}
