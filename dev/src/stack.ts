import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '@cutout/config';
import { onFreePort, startRedisServer, type RedisServerHandle } from '@cutout/shared';
import { waitForHealthy } from './health.js';
import { formatLogLine } from './log-format.js';
import { ServiceProcess, type ServiceExit } from './service-process.js';

export type ServiceName = 'predict' | 'batch' | 'proxy';

/**
 * Flags node gets before a service's entry script, wherever the service is started (here, the
 * compose file's commands and package.json's start:<service> scripts give the same).
 *
 * predict: a young generation of at most 2 MiB per semi-space instead of V8's 16. Each image
 * leaves ArrayBuffers (the decoded pixels, zlib's output) that only a GC frees; with the large
 * young generation, scavenges came so seldom that those buffers' bytes set off V8's external
 * memory limit first, and half the runs fell into a major GC every ~130 ms for good (predict 0.34
 * CPU ms per tiny image instead of 0.22, measured with the serving bench). With 2 MiB, scavenges
 * free them first, in every run. It must be on node's command line: V8 sizes the heap at start.
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<ServiceName, readonly string[]>> = {
  predict: ['--max-semi-space-size=2'],
  batch: [],
  proxy: [],
};

/** The repository root, found from this file's place in dev/dist/. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface StackOptions {
  /** Settings; by default read from `baseEnv` with `env` on top. */
  config?: Config;
  /** Variables added to (or, when undefined, removed from) every service's environment. */
  env?: Record<string, string | undefined>;
  /** The environment services inherit; the launcher's own by default. */
  baseEnv?: Record<string, string | undefined>;
  /** Port for the proxy and predict; 0 picks a free one. Defaults: config.proxyPort / config.predictPort. */
  proxyPort?: number;
  predictPort?: number;
  /** batch's /metrics and /health port; 0 picks a free one. Default: config.batchMetricsPort. */
  batchMetricsPort?: number;
  /** Use this Redis. Default: REDIS_URL when it was set, otherwise a private redis-server. */
  redisUrl?: string;
  /** Data folder for the private redis-server (created if missing); a temporary one, removed on stop, by default. */
  redisDataDir?: string;
  repoRoot?: string;
  /** Stand-in scripts for the services (tests); default `<repoRoot>/<service>/dist/main.js`. */
  entryPoints?: Partial<Record<ServiceName, string>>;
  /** Receives every formatted output line (without the newline); default: stdout. */
  logSink?: (text: string) => void;
  /** Compact coloured lines for a terminal; false keeps JSON lines. */
  pretty?: boolean;
  color?: boolean;
  /** How long predict (model loading) and the proxy may take to become healthy. */
  startTimeoutMs?: number;
}

export interface StackPids {
  readonly predict: number;
  readonly batch: number;
  readonly proxy: number;
  /** Only when the stack started its own redis-server. */
  readonly redis?: number;
}

export interface StackHandle {
  readonly proxyUrl: string;
  readonly predictUrl: string;
  /** batch's GET /metrics and GET /health. */
  readonly batchMetricsUrl: string;
  readonly redisUrl: string;
  /** True when the stack started its own redis-server. */
  readonly privateRedis: boolean;
  readonly redisDataDir: string | undefined;
  /** Process ids, e.g. to read a service's peak memory (VmHWM in /proc/<pid>/status); redis only when private. */
  readonly pids: StackPids;
  /** Resolves when a service exits without being asked to; never resolves otherwise. */
  readonly crashed: Promise<ServiceExit>;
  /** Stops proxy, batch, predict (in that order), then the private Redis. Safe to call twice. */
  stop(): Promise<void>;
}

/** A service died or never became healthy while the stack was starting. */
export class StackStartError extends Error {
  constructor(
    message: string,
    readonly lastLines: readonly string[] = [],
  ) {
    super(message);
    this.name = 'StackStartError';
  }
}

const STOP_ORDER: readonly ServiceName[] = ['proxy', 'batch', 'predict'];
// A service spends up to shutdownGraceMs draining on its own; the extra second lets it exit
// cleanly at the end of that grace before the launcher resorts to SIGKILL.
const KILL_SLACK_MS = 1_000;

/** A URL a local client can use for a server listening on `host` (wildcards mean loopback). */
export function localUrl(host: string, port: number): string {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return `http://127.0.0.1:${port}`;
  return host.includes(':') && !host.startsWith('[') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

function ensurePortFree(port: number, host: string, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new StackStartError(
          error.code === 'EADDRINUSE'
            ? `port ${port} is already in use (${variable}): is another stack running? Stop it or set ${variable} to a free port`
            : `cannot listen on ${host}:${port} (${variable}): ${error.message}`,
        ),
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/** A port asked for by number must be free now; 0 (pick one) needs no check. */
async function checkPortFree(requested: number, host: string, variable: string): Promise<void> {
  if (requested !== 0) await ensurePortFree(requested, host, variable);
}

interface PortedStart {
  /** The service's environment for a port. */
  env: (port: number) => Record<string, string>;
  /** Resolves once the service is up on that port; rejects (deadService) if it died. */
  ready: (port: number) => Promise<void>;
}

class Stack {
  readonly services = new Map<ServiceName, ServiceProcess>();
  redis: RedisServerHandle | undefined;
  private stopping: Promise<void> | undefined;
  private crash: ((exit: ServiceExit) => void) | undefined;
  readonly crashed = new Promise<ServiceExit>((resolve) => (this.crash = resolve));
  /** Set once start-up is over: only then is an exit a crash (before, it fails the start). */
  private armed = false;
  /** The first service that could not be started: the others stop waiting for health then. */
  private startFailure: Error | undefined;
  private readonly killOnExit = () => this.services.forEach((s) => s.killNow());

  constructor(
    private readonly config: Config,
    private readonly options: StackOptions,
  ) {
    // A launcher that dies abruptly must not leave services (in their own process groups) running.
    process.on('exit', this.killOnExit);
  }

  emit(service: string, line: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const text = formatLogLine(service, line, stream, { pretty: this.options.pretty ?? false, color: this.options.color ?? false });
    (this.options.logSink ?? ((t: string) => process.stdout.write(`${t}\n`)))(text);
  }

  log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
    this.emit('stack', JSON.stringify({ level, message, ...fields, timestamp: new Date().toISOString() }));
  }

  spawn(name: ServiceName, env: Record<string, string>): ServiceProcess {
    const repoRoot = this.options.repoRoot ?? REPO_ROOT;
    const entry = this.options.entryPoints?.[name] ?? join(repoRoot, name, 'dist', 'main.js');
    this.log('info', `starting ${name}`, { entry });
    const service = new ServiceProcess({ name, entry, nodeFlags: SERVICE_NODE_FLAGS[name], cwd: repoRoot, env, onLine: (line, stream) => this.emit(name, line, stream) });
    this.services.set(name, service);
    void service.exited.then((exit) => {
      if (this.stopping) return;
      this.log('error', `${name} exited unexpectedly`, { code: exit.code, signal: exit.signal });
      if (this.armed) this.crash?.(exit);
    });
    return service;
  }

  arm(): void {
    this.armed = true;
  }

  /**
   * Starts `name` on `requested`, or on a free port when that is 0 (onFreePort: CI saw batch's
   * picked port taken before it listened, so a picked port it finds taken is picked again).
   * Resolves with the port.
   */
  async spawnOnPort(name: ServiceName, requested: number, variable: string, start: PortedStart): Promise<number> {
    let service: ServiceProcess | undefined;
    const attempt = async (port: number): Promise<number> => {
      service = this.spawn(name, start.env(port));
      await start.ready(port);
      return port;
    };
    // Asked only when another pick is left, so the warning is true when it is written.
    const taken = (): boolean => {
      const busy = !this.stopping && service !== undefined && !service.running && service.lastLines().some((line) => line.includes('EADDRINUSE'));
      if (busy) this.log('warn', `the port picked for ${name} was taken before it could listen; starting it again on another`, { variable });
      return busy;
    };
    try {
      return requested === 0 ? await onFreePort(attempt, taken) : await attempt(requested);
    } catch (error) {
      this.startFailure ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  /** What ends a wait for `name` at once: its own death, or another service's failed start. */
  private waitFailure(name: ServiceName): Error | undefined {
    return this.deadService(name) ?? this.startFailure;
  }

  /** The first service (of those named, or of all) that has died, as a start-up error carrying its last output. */
  deadService(only?: ServiceName): StackStartError | undefined {
    for (const service of this.services.values()) {
      if (only !== undefined && service.name !== only) continue;
      if (!service.running) {
        const lines = service.lastLines();
        const tail = lines.length > 0 ? `; its last output:\n${lines.map((l) => `  ${l}`).join('\n')}` : ' without any output';
        return new StackStartError(`${service.name} exited during start-up${tail}`, lines);
      }
    }
    return undefined;
  }

  async waitHealthy(name: ServiceName, url: string): Promise<void> {
    await waitForHealthy(`${url}/health`, { timeoutMs: this.options.startTimeoutMs ?? 120_000, failure: () => this.waitFailure(name) });
    this.log('info', `${name} is healthy`, { url });
  }

  /** Resolves once `url`/health gives any HTTP answer: the service is listening there. */
  async waitAnswering(name: ServiceName, url: string): Promise<void> {
    await waitForHealthy(`${url}/health`, { timeoutMs: this.options.startTimeoutMs ?? 120_000, failure: () => this.waitFailure(name), anyAnswer: true });
    this.log('info', `${name} is listening`, { url });
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const problems: unknown[] = [];
    for (const name of STOP_ORDER) {
      const service = this.services.get(name);
      if (!service) continue;
      if (service.running) this.log('info', `stopping ${name}`);
      await service.stop(this.config.shutdownGraceMs + KILL_SLACK_MS).catch((e: unknown) => problems.push(e));
    }
    if (this.redis) {
      this.log('info', 'stopping the private redis-server');
      await this.redis.stop().catch((e: unknown) => problems.push(e));
    }
    process.off('exit', this.killOnExit);
    if (problems.length > 0) throw new AggregateError(problems, 'the stack did not stop cleanly');
  }
}

function serviceEnv(options: StackOptions, wiring: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...(options.baseEnv ?? process.env), ...options.env, ...wiring })) {
    if (value !== undefined) env[key] = value;
  }
  return env;
}

async function startRedis(stack: Stack, options: StackOptions, config: Config): Promise<string> {
  const url = options.redisUrl ?? (config.redisUrlSet ? config.redisUrl : undefined);
  if (url !== undefined) return url;
  if (options.redisDataDir !== undefined) mkdirSync(options.redisDataDir, { recursive: true });
  // Append-only so queued jobs survive a restart of `npm start` on the same data folder.
  // Set up as docs/operations.md says production should be, so the durability check stays quiet.
  // A given folder is locked while this stack's redis-server runs: a second stack on it is refused.
  const dir = options.redisDataDir !== undefined ? { dir: options.redisDataDir, dirHint: 'STACK_REDIS_DIR=<another folder>' } : {};
  stack.redis = await startRedisServer({ appendOnly: true, maxmemory: '1gb', ...dir });
  stack.log('info', 'private redis-server is up', { url: stack.redis.url, dir: stack.redis.dir });
  return stack.redis.url;
}

/**
 * Starts Redis (unless one is given), predict, batch and proxy as child processes wired to each
 * other, and resolves once predict has loaded its model and the proxy answers /health.
 * On any failure everything already started is stopped before the promise rejects.
 */
export async function startStack(options: StackOptions = {}): Promise<StackHandle> {
  // predict and batch's metrics listen on loopback unless PREDICT_HOST / BATCH_METRICS_HOST say
  // otherwise (their defaults), and predict refuses any other address without PREDICT_TOKEN.
  const config = options.config ?? loadConfig({ ...(options.baseEnv ?? process.env), ...options.env });
  // A port asked for by number is checked before anything starts, so "another stack is running"
  // is said at once; one picked freely is picked just before its service starts (below).
  const requested = {
    predict: options.predictPort ?? config.predictPort,
    proxy: options.proxyPort ?? config.proxyPort,
    batch: options.batchMetricsPort ?? config.batchMetricsPort,
  };
  await checkPortFree(requested.predict, config.predictHost, 'PREDICT_PORT');
  await checkPortFree(requested.proxy, config.proxyHost, 'PROXY_PORT');
  await checkPortFree(requested.batch, config.batchMetricsHost, 'BATCH_METRICS_PORT');
  const stack = new Stack(config, options);
  try {
    const redisUrl = await startRedis(stack, options, config);
    const wiring = { REDIS_URL: redisUrl };
    const predictPort = await stack.spawnOnPort('predict', requested.predict, 'PREDICT_PORT', {
      env: (port) => serviceEnv(options, { ...wiring, PREDICT_PORT: String(port), PREDICT_URL: localUrl(config.predictHost, port) }),
      ready: (port) => stack.waitHealthy('predict', localUrl(config.predictHost, port)),
    });
    const predictUrl = localUrl(config.predictHost, predictPort);
    const predictWiring = { ...wiring, PREDICT_PORT: String(predictPort), PREDICT_URL: predictUrl };
    // Batch would only log connection errors while the model loads, so it waits for predict.
    // It counts as started once its metrics server answers (its /health may say 503 until it has Redis).
    const [batch, proxy] = await Promise.allSettled([
      stack.spawnOnPort('batch', requested.batch, 'BATCH_METRICS_PORT', {
        env: (port) => serviceEnv(options, { ...predictWiring, BATCH_METRICS_PORT: String(port) }),
        ready: (port) => stack.waitAnswering('batch', localUrl(config.batchMetricsHost, port)),
      }),
      stack.spawnOnPort('proxy', requested.proxy, 'PROXY_PORT', {
        env: (port) => serviceEnv(options, { ...predictWiring, PROXY_PORT: String(port) }),
        ready: (port) => stack.waitHealthy('proxy', localUrl(config.proxyHost, port)),
      }),
    ]);
    if (batch.status === 'rejected') throw batch.reason;
    if (proxy.status === 'rejected') throw proxy.reason;
    const [batchMetricsPort, proxyPort] = [batch.value, proxy.value];
    const proxyUrl = localUrl(config.proxyHost, proxyPort);
    // From here a service that exits is a crash; one that died before is a start-up failure.
    stack.arm();
    const late = stack.deadService();
    if (late) throw late;
    const pid = (name: ServiceName) => stack.services.get(name)?.pid ?? 0;
    const redisPid = stack.redis?.process.pid;
    const pids: StackPids = { predict: pid('predict'), batch: pid('batch'), proxy: pid('proxy'), ...(redisPid === undefined ? {} : { redis: redisPid }) };
    return {
      pids,
      proxyUrl,
      predictUrl,
      batchMetricsUrl: localUrl(config.batchMetricsHost, batchMetricsPort),
      redisUrl,
      privateRedis: stack.redis !== undefined,
      redisDataDir: stack.redis?.dir,
      crashed: stack.crashed,
      stop: () => stack.stop(),
    };
  } catch (error) {
    await stack.stop().catch(() => undefined);
    throw error;
  }
}
