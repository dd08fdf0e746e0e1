import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@cutout/config';
import { DataDirInUseError, RedisServerMissingError } from '@cutout/shared';
import { formatLogLine } from './log-format.js';
import { EntryMissingError } from './service-process.js';
import { REPO_ROOT, startStack, StackStartError, type StackHandle } from './stack.js';

const REPEAT_SIGNAL_MS = 1_000;

const USAGE = `Usage: npm start [-- --json]

Starts predict, batch and proxy (and a private redis-server unless REDIS_URL is set, with its
data in STACK_REDIS_DIR, default .cutout/redis, which one stack at a time may use),
prints their logs, and stops them all on Ctrl-C.

  --json   keep every log line as JSON (the default when stdout is not a terminal)
  --help   show this help
`;

function readFlags(): { json: boolean } {
  try {
    const { values } = parseArgs({ options: { json: { type: 'boolean' }, help: { type: 'boolean' } }, strict: true });
    if (values.help) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    return { json: values.json ?? false };
  } catch (error) {
    process.stderr.write(`cutout stack: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

function banner(stack: StackHandle, pretty: boolean): string[] {
  const redis = stack.privateRedis ? `${stack.redisUrl} (private, data in ${relative(process.cwd(), stack.redisDataDir ?? '') || '.'})` : stack.redisUrl;
  if (!pretty) {
    const entry = { level: 'info', message: 'ready', page_url: `${stack.proxyUrl}/`, proxy_url: stack.proxyUrl, predict_url: stack.predictUrl, redis_url: stack.redisUrl };
    return [JSON.stringify({ ...entry, timestamp: new Date().toISOString() })];
  }
  return [
    '',
    // The page comes first: it is what a newcomer opens, everything else is for scripts.
    `open   ${stack.proxyUrl}/  in a browser to remove backgrounds`,
    `ready  proxy    ${stack.proxyUrl}`,
    `       predict  ${stack.predictUrl}`,
    `       redis    ${redis}`,
    `try    curl -s ${stack.proxyUrl}/health`,
    `       npx cutout-request --port ${new URL(stack.proxyUrl).port} --in_images_dir test/fixtures/images --out_images_dir out_images`,
    `       npx cutout-load --port ${new URL(stack.proxyUrl).port} -N 10 -T 1 -R 5 --report load.html`,
    'Ctrl-C stops everything.',
    '',
  ];
}

function say(pretty: boolean, color: boolean, line: string): void {
  process.stdout.write(`${formatLogLine('stack', line, 'stdout', { pretty, color })}\n`);
}

function startFailed(error: unknown): never {
  if (error instanceof RedisServerMissingError || error instanceof DataDirInUseError || error instanceof EntryMissingError || error instanceof StackStartError) {
    process.stderr.write(`cutout stack: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

async function main(): Promise<void> {
  const { json } = readFlags();
  const config = loadConfigOrExit('stack');
  const pretty = Boolean(process.stdout.isTTY) && !json;
  const color = pretty && process.stdout.hasColors?.() === true;
  const stack = await startStack({ config, pretty, color, redisDataDir: config.stackRedisDir ?? join(REPO_ROOT, '.cutout', 'redis') }).catch(startFailed);

  let firstSignalAt: number | undefined;
  const shutdown = (code: number) => {
    stack.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        process.stderr.write(`cutout stack: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // Under `npm start` one Ctrl-C arrives twice (from the terminal and forwarded by npm), so only
      // a repeat a moment later means "now"; the 'exit' hook then SIGKILLs whatever is left.
      if (firstSignalAt !== undefined) {
        if (Date.now() - firstSignalAt > REPEAT_SIGNAL_MS) process.exit(130);
        return;
      }
      firstSignalAt = Date.now();
      say(pretty, color, `${signal}: stopping proxy, batch, predict${config.redisUrlSet ? '' : ', redis'}`);
      shutdown(0);
    });
  }
  void stack.crashed.then((exit) => {
    process.stderr.write(`cutout stack: ${exit.service} stopped (code ${exit.code}, signal ${exit.signal}); stopping the rest\n`);
    shutdown(1);
  });
  // Only now: whoever reads "ready" and sends SIGTERM at once must find the handler in place.
  for (const line of banner(stack, pretty)) say(pretty, color, line);
}

await main();
