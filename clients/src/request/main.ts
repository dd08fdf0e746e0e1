#!/usr/bin/env node
import { ProxyClient, ProxyUnreachableError } from './api-client.js';
import { parseRequestArgs, proxyBaseUrl, UsageError, USAGE, type RequestOptions } from './args.js';
import { InputFolderError } from './images.js';
import { createReporter } from './progress.js';
import { formatSummary, ProxyUnhealthyError, runRequests } from './runner.js';

function parseOrExit(argv: readonly string[]): RequestOptions {
  try {
    const parsed = parseRequestArgs(argv);
    if (!parsed.help) return parsed.options;
    process.stdout.write(USAGE);
    process.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`cutout-request: ${error.message}\nRun "cutout-request --help" for the options.\n`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const options = parseOrExit(process.argv.slice(2));
  const reporter = createReporter(process.stdout, process.stderr);
  if (options.debug) {
    for (const [key, value] of Object.entries(options)) reporter.warn(`${key}: ${String(value)}`);
  }
  const client = new ProxyClient({
    baseUrl: proxyBaseUrl(options),
    connections: options.concurrency,
    onExchange: options.debug ? (x) => reporter.warn(`debug: ${x.method} ${x.path} -> ${x.status ?? 'no answer'} in ${x.ms} ms ${x.summary}`) : undefined,
  });
  process.once('SIGINT', () => {
    reporter.end();
    process.stderr.write('\ncutout-request: interrupted; jobs already submitted keep running on the server\n');
    process.exit(130);
  });
  try {
    const result = await runRequests(options, { client, reporter });
    for (const line of formatSummary(result, options.nPollings)) process.stdout.write(`${line}\n`);
    return result.succeeded.length === result.total ? 0 : 1;
  } catch (error) {
    reporter.end();
    if (error instanceof ProxyUnreachableError) {
      process.stderr.write(`cutout-request: ${error.message}: is the stack running? npm start\n`);
      return 1;
    }
    if (error instanceof ProxyUnhealthyError || error instanceof InputFolderError) {
      process.stderr.write(`cutout-request: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await client.close();
  }
}

process.exitCode = await main();
