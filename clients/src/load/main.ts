#!/usr/bin/env node
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { InputFolderError, listImages } from '../request/images.js';
import { proxyBaseUrl } from '../request/args.js';
import { senderFor, type Payload } from './apis.js';
import { LOAD_USAGE, parseLoadArgs, UsageError, type LoadOptions } from './args.js';
import { Http } from './http.js';
import { Live } from './live.js';
import { renderReport } from './report.js';
import { runLoad } from './run.js';
import { formatSummary, summarize } from './stats.js';

const TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

function parseOrExit(argv: readonly string[]): LoadOptions {
  try {
    const parsed = parseLoadArgs(argv);
    if (!parsed.help) return parsed.options;
    process.stdout.write(LOAD_USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`cutout-load: ${error.message}\nRun "cutout-load --help" for the options.\n`);
    process.exit(2);
  }
}

/** Every image read once, up front: the run measures the server, not the disk. */
async function loadImages(dir: string): Promise<Payload[]> {
  const tasks = await listImages(dir);
  return Promise.all(
    tasks.map(async (t) => {
      const bytes = await readFile(t.path);
      return { name: t.name, bytes, base64: bytes.toString('base64'), type: TYPES[extname(t.name).toLowerCase()] ?? 'application/octet-stream' };
    }),
  );
}

async function main(): Promise<number> {
  const options = parseOrExit(process.argv.slice(2));
  let images: Payload[];
  try {
    images = await loadImages(options.inImagesDir);
  } catch (error) {
    if (!(error instanceof InputFolderError)) throw error;
    process.stderr.write(`cutout-load: ${error.message}\n`);
    return 2;
  }
  const baseUrl = proxyBaseUrl(options);
  const http = new Http({ baseUrl, apiKey: options.apiKey });
  const live = new Live(process.stderr, process.stdout, options.rounds, options.verbose);
  if (options.verbose) process.stderr.write(`cutout-load: ${baseUrl}, api ${options.api}, ${images.length} images from ${options.inImagesDir}\n`);
  process.once('SIGINT', () => {
    live.end();
    process.stderr.write('\ncutout-load: interrupted; requests already sent keep running on the server\n');
    process.exit(130);
  });
  try {
    const plan = { requests: options.requests, rounds: options.rounds, intervalMs: options.intervalMs, perRequest: options.group ?? 1, timeoutMs: options.timeoutMs };
    const { samples, durationMs } = await runLoad(plan, images, senderFor(options.api, options.group !== undefined, http), live);
    live.end();
    const summary = summarize(samples, { api: options.api, requests: options.requests, rounds: options.rounds, intervalMs: options.intervalMs, group: options.group }, durationMs);
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else for (const line of formatSummary(summary)) process.stdout.write(`${line}\n`);
    if (options.reportFile !== undefined) {
      await writeFile(options.reportFile, renderReport(summary, samples, new Date()));
      process.stderr.write(`cutout-load: wrote ${options.reportFile}\n`);
    }
    if (options.group !== undefined && summary.failed_by_code.NOT_FOUND) process.stderr.write('cutout-load: this proxy has no POST /v1/groups (CONTRACT §6); --group needs a proxy that has it\n');
    if (summary.failed_by_code.UNREACHABLE) process.stderr.write(`cutout-load: cannot reach the proxy at ${baseUrl}: is the stack running? npm start\n`);
    return summary.failed === 0 ? 0 : 1;
  } finally {
    await http.close();
  }
}

process.exitCode = await main();
