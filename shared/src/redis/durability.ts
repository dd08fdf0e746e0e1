import type { RedisClient } from './client.js';
import { errorMessage } from '../error-message.js';

export interface DurabilityCheckOptions {
  /** How long the CONFIG GETs may take before the check gives up with a warning (default 2 s). */
  timeoutMs?: number;
}

const WANTED = 'maxmemory-policy noeviction, a maxmemory limit, and appendonly yes with appendfsync everysec or always';

function describeMaxmemory(bytes: number): string {
  return bytes > 0 ? `maxmemory is ${bytes} bytes` : 'maxmemory is 0 (no limit) now, but it may be set later';
}

function evictionWarning(policy: string, maxmemory: number): string {
  return (
    `Redis maxmemory-policy is "${policy}" (${describeMaxmemory(maxmemory)}): when memory runs out Redis may evict keys, ` +
    'and an evicted job record, input image or queue entry is a job lost without a trace; ' +
    'set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf) so that a full Redis ' +
    'refuses new jobs (503) instead of dropping accepted ones'
  );
}

const NO_PERSISTENCE =
  'Redis persists nothing (appendonly no and no save points): a Redis restart loses every queued and running job; ' +
  'turn on the append-only file (CONFIG SET appendonly yes, and appendonly yes in redis.conf) or at least RDB snapshots (save)';

const RDB_ONLY =
  'Redis persists only RDB snapshots (save points, appendonly no): a restart loses every job accepted since the last snapshot; ' +
  'turn on the append-only file: CONFIG SET appendonly yes (and appendonly yes in redis.conf)';

const FSYNC_NO =
  'Redis appends to its AOF with appendfsync no: the OS decides when the file reaches the disk, and a crash can lose many seconds of accepted jobs; ' +
  'CONFIG SET appendfsync everysec (at most a second lost), or appendfsync always (nothing lost, slower writes)';

const NO_MEMORY_LIMIT =
  'Redis maxmemory is 0 (no limit): Redis grows until the operating system kills it, and the proxy cannot refuse work for memory before that; ' +
  'set a limit below the machine\'s memory, e.g. CONFIG SET maxmemory 2gb (and in redis.conf)';

async function readSettings(client: Pick<RedisClient, 'configGet'>): Promise<Record<string, string>> {
  // One parameter per CONFIG GET: Redis before 7.0 accepts only one.
  const names = ['maxmemory-policy', 'maxmemory', 'appendonly', 'appendfsync', 'save'];
  const replies = await Promise.all(names.map((name) => client.configGet(name)));
  const settings: Record<string, string> = {};
  for (const reply of replies) for (const [key, value] of Object.entries(reply)) settings[String(key)] = String(value);
  for (const name of names) {
    if (settings[name] === undefined) throw new Error(`CONFIG GET ${name} returned nothing`);
  }
  return settings;
}

function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  pending.catch(() => {});
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Reads the Redis settings that decide whether an accepted job can vanish (eviction, no or
 * only snapshot persistence, an AOF the OS flushes when it likes, no memory limit) and returns
 * one warning per problem, each with the CONFIG SET line that fixes it; [] when all is well.
 * Never throws: when CONFIG is refused (managed Redis often disables it) or Redis does not
 * answer, it returns a single warning saying what to check by hand.
 */
export async function checkRedisDurability(client: Pick<RedisClient, 'configGet'>, options: DurabilityCheckOptions = {}): Promise<string[]> {
  let settings: Record<string, string>;
  try {
    settings = await withTimeout(readSettings(client), options.timeoutMs ?? 2_000);
  } catch (error) {
    const reason = errorMessage(error);
    return [`could not read the Redis configuration (CONFIG GET failed: ${reason.slice(0, 200)}); check by hand that it has ${WANTED}, or jobs may be evicted or lost on a restart`];
  }
  const warnings: string[] = [];
  const policy = settings['maxmemory-policy']!.trim().toLowerCase();
  if (policy !== 'noeviction') warnings.push(evictionWarning(policy, Number(settings.maxmemory) || 0));
  const aof = settings.appendonly!.trim().toLowerCase() === 'yes';
  const rdb = settings.save!.trim() !== '';
  if (!aof && !rdb) warnings.push(NO_PERSISTENCE);
  if (!aof && rdb) warnings.push(RDB_ONLY);
  if (aof && settings.appendfsync!.trim().toLowerCase() === 'no') warnings.push(FSYNC_NO);
  if (!(Number(settings.maxmemory) > 0)) warnings.push(NO_MEMORY_LIMIT);
  return warnings;
}
