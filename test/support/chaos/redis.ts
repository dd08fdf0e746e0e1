import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { freePort, startRedisServer, type RedisServerHandle } from '@cutout/shared';
import { trackChild } from './child.js';

/** One entry of CLIENT LIST. */
export interface ClientInfo {
  id: string;
  name: string;
  cmd: string;
  flags: string;
  addr: string;
}

export function parseClientList(text: string): ClientInfo[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const fields = new Map(line.trim().split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
      return { id: fields.get('id') ?? '', name: fields.get('name') ?? '', cmd: fields.get('cmd') ?? '', flags: fields.get('flags') ?? '', addr: fields.get('addr') ?? '' };
    });
}

export interface ChaosRedisOptions {
  /** Default everysec; 'always' makes every acknowledged write survive a kill -9. */
  appendfsync?: 'always' | 'everysec';
  /** e.g. '4mb' (the policy is always noeviction); default none. */
  maxmemory?: string;
}

/**
 * A private append-only redis-server on a fixed port and data folder, so a restart (graceful
 * SIGTERM: Redis flushes the AOF on shutdown) comes back on the same address with the same data.
 * `admin` is the test's own connection; it reconnects by itself after a restart.
 */
export class ChaosRedis {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  readonly admin: RedisClientType;
  #server: RedisServerHandle | undefined;
  readonly #options: ChaosRedisOptions;
  /** Connection errors of the admin client; expected around a restart. */
  adminErrors = 0;

  private constructor(port: number, dir: string, options: ChaosRedisOptions) {
    this.#options = options;
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.admin = createClient({ url: this.url, name: 'chaos-admin', socket: { reconnectStrategy: () => 50, connectTimeout: 2_000 } });
    this.admin.on('error', () => (this.adminErrors += 1));
  }

  static async start(options: ChaosRedisOptions = {}): Promise<ChaosRedis> {
    const redis = new ChaosRedis(await freePort(), mkdtempSync(join(tmpdir(), 'cutout-chaos-redis-')), options);
    try {
      await redis.startServer();
      await redis.admin.connect();
      return redis;
    } catch (error) {
      await redis.close();
      throw error;
    }
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  private async startServer(): Promise<void> {
    const { appendfsync, maxmemory } = this.#options;
    this.#server = await startRedisServer({
      port: this.port,
      dir: this.dir,
      appendOnly: true,
      ...(appendfsync ? { appendfsync } : {}),
      ...(maxmemory ? { maxmemory } : {}),
    });
    trackChild(this.#server.process);
  }

  /** kill -9: no shutdown, no final AOF flush; the data folder stays for startAgain(). */
  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.kill();
  }

  /** SIGSTOP: the server freezes with every socket open; commands sent meanwhile run at SIGCONT. */
  pause(): void {
    this.#server?.process.kill('SIGSTOP');
  }

  resume(): void {
    this.#server?.process.kill('SIGCONT');
  }

  /** Graceful stop: SIGTERM, so everything acknowledged is in the AOF. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    await server?.stop();
  }

  /**
   * Same port, same folder: the AOF is loaded back. `whenUp` runs as soon as the server answers
   * (before the admin client has reconnected); resolves once the admin client is back too.
   */
  async startAgain(whenUp?: () => Promise<void>): Promise<void> {
    await this.startServer();
    await whenUp?.();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.admin.ping();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async clientList(): Promise<ClientInfo[]> {
    return parseClientList(String(await this.admin.sendCommand(['CLIENT', 'LIST'])));
  }

  /** CLIENT KILL ID, one id at a time (several ids in one call needs Redis 7.4); returns how many were killed. */
  async killClients(ids: readonly string[]): Promise<number> {
    let killed = 0;
    for (const id of ids) killed += Number(await this.admin.sendCommand(['CLIENT', 'KILL', 'ID', id]));
    return killed;
  }

  async close(): Promise<void> {
    this.resume();
    if (this.admin.isOpen) this.admin.destroy();
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
