import { startRedisServer, type RedisServerHandle } from '../process/redis-server.js';
import { closeRedisClient, createRedisClient, type RedisClient } from '../redis/client.js';

/** A private redis-server on a free port and one connected client, for a test file's before(). */
export async function startTestRedis(): Promise<{ server: RedisServerHandle; redis: RedisClient }> {
  const server = await startRedisServer();
  const redis = createRedisClient(server.url, { name: 'test', onError: () => {} });
  await redis.connect();
  return { server, redis };
}

/** Closes what startTestRedis opened, client first. */
export async function stopTestRedis(server: RedisServerHandle, redis: RedisClient): Promise<void> {
  await closeRedisClient(redis);
  await server.stop();
}
