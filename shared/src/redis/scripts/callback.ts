import { LuaScript } from '../lua-script.js';
import { NOW_MS } from './lua-lib.js';

// The callback outbox: a zset of entries ("job:<id>", "group:<id>") by when their delivery is
// due. A deliverer claims an entry by pushing its due time one lease ahead and counting the
// attempt; if it dies the entry comes due again and another process claims it. The attempt
// number fences the outcome: only the claim that is current may settle the entry. Both run
// while Redis is over maxmemory (allow-oom): deliveries drain the outbox, they do not grow it.

export const claimCallbackScript = new LuaScript(
  `
-- Claim the callback delivery that has been due longest.
-- KEYS[1] callback_outbox   KEYS[2] callback_attempts
-- ARGV[1] lease ms
-- Returns { entry, attempt } or {} when none is due.
${NOW_MS}
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return {} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), due[1])
return { due[1], redis.call('HINCRBY', KEYS[2], due[1], 1) }
`,
  { allowOom: true },
);

export const settleCallbackScript = new LuaScript(
  `
-- The outcome of a claimed delivery: delivered (the entry leaves the outbox), failed and tried
-- again after a delay, or given up after the last attempt (kept, capped, in the dead list).
-- KEYS[1] callback_outbox   KEYS[2] callback_attempts   KEYS[3] job_counts   KEYS[4] callback_dead_letter
-- ARGV[1] entry   ARGV[2] attempt   ARGV[3] 'delivered' or 'failed'   ARGV[4] max attempts
-- ARGV[5] retry delay ms   ARGV[6] error text   ARGV[7] dead-letter max
-- Returns 'delivered', 'retry', 'gave_up', or 0 when the claim is no longer current.
${NOW_MS}
local entry, attempt = ARGV[1], tonumber(ARGV[2])
if tonumber(redis.call('HGET', KEYS[2], entry) or '-1') ~= attempt or not redis.call('ZSCORE', KEYS[1], entry) then
  return 0
end
if ARGV[3] == 'delivered' then
  redis.call('ZREM', KEYS[1], entry)
  redis.call('HDEL', KEYS[2], entry)
  redis.call('HINCRBY', KEYS[3], 'callbacks_delivered', 1)
  return 'delivered'
end
if attempt >= tonumber(ARGV[4]) then
  redis.call('ZREM', KEYS[1], entry)
  redis.call('HDEL', KEYS[2], entry)
  redis.call('HINCRBY', KEYS[3], 'callbacks_failed', 1)
  redis.call('LPUSH', KEYS[4], cjson.encode({ entry = entry, attempts = attempt, error = ARGV[6], failed_at = now_ms() }))
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[7]) - 1)
  return 'gave_up'
end
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[5]), entry)
return 'retry'
`,
  { allowOom: true },
);
