import { createClient, type RedisClientType } from 'redis';

export type RedisClient = RedisClientType;

export interface RedisClientOptions {
  /** Shown by CLIENT LIST, so an operator can tell connections apart. */
  name: string;
  /** Connection errors land here; node-redis reconnects by itself. */
  onError: (error: Error) => void;
  connectTimeoutMs?: number;
}

/**
 * A client that fails fast while Redis is away (no offline queue, so a health check or an
 * upload answers at once instead of hanging) and reconnects with capped backoff.
 */
export function createRedisClient(url: string, options: RedisClientOptions): RedisClient {
  const client: RedisClient = createClient({
    url,
    name: options.name,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
    },
  });
  client.on('error', options.onError);
  return client;
}

/** Closes a client whether or not it is connected; safe to call twice. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    await client.close();
  } catch {
    client.destroy();
  }
}
