import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '@cutout/config';
import { freePort } from '@cutout/shared';
import { TcpRelay } from '@cutout/shared/testing';
import { ChaosRedis, type ChaosRedisOptions } from './redis.js';
import { ChaosService } from './service.js';
import { WriteObserver } from './write-observer.js';

/** The repository root, from test/dist/support/chaos/. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

const KEEP_LINES = 600;

export interface ClusterOptions {
  /** Scenario name: the key prefix is `chaos-<name>:`. */
  name: string;
  /** Settings (JOB_LEASE_MS, PREDICT_TIMEOUT_MS, ...) given to every service. */
  env?: Record<string, string>;
  /** Batch processes started with the cluster (more can be added with addBatch). Default 1. */
  batches?: number;
  /** Service output lines kept for assertions and failure messages. Default 600. */
  keepLines?: number;
  /** How the redis-server runs (fsync policy, maxmemory). */
  redis?: ChaosRedisOptions;
  /** Services that reach Redis through a relay of their own (`relays`), which can black-hole. */
  relays?: ReadonlyArray<RelayedService>;
  /** Headers every client call of the scenario sends (the load and the end checks): an API key when keys are on. */
  clientHeaders?: Readonly<Record<string, string>>;
  /** Settings for one kind of service only, on top of `env` (e.g. batch's own PREDICT_URL). */
  serviceEnv?: (service: ServiceKind, urls: { predictUrl: string }) => Record<string, string> | undefined;
}

export type ServiceKind = 'predict' | 'proxy' | 'batch';
export type RelayedService = 'batch' | 'proxy';

/** The environment of this process without anything that would point a service elsewhere. */
function cleanEnv(): Record<string, string> {
  const drop = new Set([...Object.keys(DEFAULTS), 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !drop.has(key)) env[key] = value;
  return env;
}

/**
 * A private Redis (append-only, fixed port and folder), predict, proxy and any number of batch
 * processes, each a real child process on its own free port, plus the write observer. Every
 * part can be killed, paused or restarted; close() removes everything whatever state it is in.
 */
export class ChaosCluster {
  readonly name: string;
  readonly prefix: string;
  readonly batches: ChaosService[] = [];
  readonly lines: string[] = [];
  /** The relay between each service named in `relays` and Redis. */
  readonly relays = new Map<RelayedService, TcpRelay>();
  redis!: ChaosRedis;
  observer!: WriteObserver;
  predict!: ChaosService;
  proxy!: ChaosService;
  proxyUrl = '';
  predictUrl = '';
  readonly clientHeaders: Readonly<Record<string, string>>;
  #env: Record<string, string> = {};
  #closing: Promise<void> | undefined;

  private constructor(private readonly options: ClusterOptions) {
    this.name = options.name;
    this.prefix = `chaos-${options.name}:`;
    this.clientHeaders = options.clientHeaders ?? {};
  }

  static async start(options: ClusterOptions): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(options);
    try {
      await cluster.#startAll();
      return cluster;
    } catch (error) {
      const tail = cluster.tail(40);
      await cluster.close();
      throw new Error(`chaos ${options.name}: the cluster did not start: ${(error as Error).message}\n${tail}`, { cause: error });
    }
  }

  async #startAll(): Promise<void> {
    this.redis = await ChaosRedis.start(this.options.redis);
    for (const service of this.options.relays ?? []) this.relays.set(service, await TcpRelay.start({ port: this.redis.port }));
    this.observer = new WriteObserver(this.redis.url, this.prefix);
    await this.observer.attach();
    const [predictPort, proxyPort] = [await freePort(), await freePort()];
    this.predictUrl = `http://127.0.0.1:${predictPort}`;
    this.proxyUrl = `http://127.0.0.1:${proxyPort}`;
    this.#env = {
      ...cleanEnv(),
      REDIS_URL: this.redis.url,
      REDIS_KEY_PREFIX: this.prefix,
      LOG_LEVEL: 'warn',
      PREDICT_HOST: '127.0.0.1',
      PREDICT_PORT: String(predictPort),
      PREDICT_URL: this.predictUrl,
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(proxyPort),
      // Many batches run at once, and each restart may come up while the old port is held: each takes a free one.
      BATCH_METRICS_HOST: '127.0.0.1',
      BATCH_METRICS_PORT: '0',
      SHUTDOWN_GRACE_MS: '2000',
      // The scenarios test the serving stack under faults, not the model: the fastest built-in keeps their 1 s timeouts meaningful.
      MODEL: 'cutout-border',
      ...this.options.env,
    };
    this.predict = this.#service('predict', 'predict', `${this.predictUrl}/health`);
    this.proxy = this.#service('proxy', 'proxy', `${this.proxyUrl}/health`);
    await Promise.all([this.predict.start(), this.proxy.start()]);
    for (let i = 0; i < (this.options.batches ?? 1); i++) await this.addBatch();
  }

  #service(name: string, service: ServiceKind, healthUrl?: string): ChaosService {
    const relay = service === 'predict' ? undefined : this.relays.get(service);
    return new ChaosService({
      name,
      service,
      repoRoot: REPO_ROOT,
      env: {
        ...this.#env,
        ...this.options.serviceEnv?.(service, { predictUrl: this.predictUrl }),
        ...(relay ? { REDIS_URL: relay.redisUrl } : {}),
      },
      ...(healthUrl !== undefined ? { healthUrl } : {}),
      onLine: (line) => {
        this.lines.push(line);
        if (this.lines.length > (this.options.keepLines ?? KEEP_LINES)) this.lines.shift();
      },
    });
  }

  /** Starts one more batch process (batch#1, batch#2, ...); it has no health check to wait for. */
  async addBatch(): Promise<ChaosService> {
    const batch = this.#service(`batch#${this.batches.length + 1}`, 'batch');
    this.batches.push(batch);
    await batch.start();
    return batch;
  }

  /**
   * Graceful Redis restart on the same port and data folder, down for `outageMs`. The observer
   * subscribes again first thing; the services must find their way back by themselves.
   */
  async restartRedis(outageMs: number): Promise<void> {
    // The subscriber stays on until the server goes, so writes during the shutdown are still seen.
    this.observer.beginGap();
    await this.redis.stop();
    await sleep(outageMs);
    await this.redis.startAgain(() => this.observer.attach());
  }

  /**
   * kill -9 of redis-server (no shutdown, no last flush) and a start on the same port and data
   * folder after `outageMs`: what survives is what the AOF had on disk.
   */
  async killRedis(outageMs: number): Promise<void> {
    this.observer.beginGap();
    await this.redis.kill();
    await sleep(outageMs);
    await this.redis.startAgain(() => this.observer.attach());
  }

  /** SIGSTOP of redis-server for `ms`, then SIGCONT: every socket stays open, nothing answers meanwhile. */
  async stallRedis(ms: number): Promise<void> {
    this.redis.pause();
    try {
      await sleep(ms);
    } finally {
      this.redis.resume();
    }
  }

  /** The last `n` output lines of every service, for a failure message. */
  tail(n = 60): string {
    const recent = this.lines.slice(-n);
    return recent.length > 0 ? `last service output:\n${recent.join('\n')}` : 'no service output';
  }

  /** Stops everything (also paused or dead processes) and removes Redis's folder; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.observer?.detach();
      const services = [this.proxy, ...this.batches, this.predict].filter((s): s is ChaosService => s !== undefined);
      await Promise.all(services.map((s) => s.stop(3_000).catch(() => undefined)));
      await Promise.all([...this.relays.values()].map((r) => r.close()));
      await this.redis?.close();
    })();
    return this.#closing;
  }
}
