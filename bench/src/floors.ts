import { Agent, request } from 'undici';
import { closeRedisClient, createRedisClient } from '@cutout/shared';
import { summarize, type LatencySummary } from './stats.js';

/** The cheapest single round trips on this machine: what one job can never go below. */
export interface Floors {
  /** PING through node-redis, the client every service uses. */
  redisPing: LatencySummary;
  /** GET /health on predict: an express answer with no work behind it. */
  httpNoop: LatencySummary;
  /** GET /health on the proxy: express plus one Redis PING. */
  proxyHealth: LatencySummary;
}

async function timeEach(count: number, once: () => Promise<unknown>): Promise<LatencySummary> {
  for (let i = 0; i < Math.min(100, count); i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await once();
    samples.push(performance.now() - started);
  }
  return summarize(samples);
}

async function httpGet(agent: Agent, url: string): Promise<void> {
  const res = await request(url, { dispatcher: agent });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`${url} answered ${res.statusCode}`);
}

/** Sequential round trips against a running stack; `count` of each after a short warm-up. */
export async function measureFloors(urls: { redisUrl: string; predictUrl: string; proxyUrl: string }, count: number): Promise<Floors> {
  const redis = createRedisClient(urls.redisUrl, { name: 'cutout-bench', onError: () => undefined });
  const agent = new Agent({ connections: 1 });
  try {
    await redis.connect();
    return {
      redisPing: await timeEach(count, () => redis.ping()),
      httpNoop: await timeEach(count, () => httpGet(agent, `${urls.predictUrl}/health`)),
      proxyHealth: await timeEach(count, () => httpGet(agent, `${urls.proxyUrl}/health`)),
    };
  } finally {
    await closeRedisClient(redis);
    await agent.close();
  }
}
