import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';

export interface LuaScriptOptions {
  /**
   * Run even while Redis is over `maxmemory`. Only for steps that keep or shrink memory (a lease
   * renewal, a job's end without output, recovery): they must go on when Redis is full, so
   * leases hold and crashed workers are recovered. Without it the script is refused as a whole,
   * before it runs, while Redis is over its limit (Redis 7 `#!lua` flags), so a step that adds
   * data either runs entirely or not at all.
   */
  allowOom?: boolean;
}

/**
 * A Lua script run by its SHA1, loaded on first use (or after a Redis restart wiped the cache).
 * Every script is a Redis 7 `#!lua` script: Redis reads its flags before running it, so the OOM
 * rule above holds for the script as a whole, not for whichever of its commands runs first.
 */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(body: string, options: LuaScriptOptions = {}) {
    this.source = `#!lua${options.allowOom ? ' flags=allow-oom' : ''}\n${body.replace(/^\n/, '')}`;
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  async run(client: RedisClient, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args });
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, { keys, arguments: args });
    }
  }
}
