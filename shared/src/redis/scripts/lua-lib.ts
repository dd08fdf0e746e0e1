/**
 * Lua pieces the scripts share. Each script pastes `PRELUDE` (and whatever else it needs) above
 * its body, so every script still runs as one self-contained atomic step.
 *
 * Every state-changing script gets the same first 19 KEYS (queueKeyList in keys.ts) and the same
 * first 6 ARGV (commonArgs in the repository); its own KEYS start at 20 and its own ARGV at 7.
 *
 * No script builds a key name: every key it touches comes in KEYS, so with a hash-tagged
 * REDIS_KEY_PREFIX (`{cutout}:`) a deployment lives in one Redis Cluster slot. A step that may end
 * a job reaches the job's group; it is given the group's id (common ARGV[1]) and keys (the last
 * two KEYS), and when it was not (the caller did not know the group), it writes nothing and
 * answers { 'need_group', gid } so the caller sends it again with them (group_missing).
 */

import { FAIR_ORDER } from './fair-order.js';

/** Most wake tokens kept: enough for every idle worker of a large deployment; more would only use memory. */
export const WAKE_CAP = 10_000;

/** How many KEYS and ARGV the prelude takes; a script's own start after them. */
export const COMMON_KEYS = 19;
export const COMMON_ARGS = 6;

export const PRELUDE = `
-- Common KEYS: 1 job_id_high  2 job_id  3 job_id_low  4 job_id_processing  5 job_leases
--   6 job_delayed  7 job_counts  8 job_dead_letter  9 job_owner_active  10 job_wake
--   11 job_deadlines  12 callback_outbox  13 callback_attempts  14 job_orphans  15 callback_dead_letter
--   16 job_id_high_order  17 job_id_order  18 job_id_low_order  19 job_order_slots
-- Common ARGV: 1 the group of the job this step may end ('' = none or not known; when set, the
--   last two KEYS are its <gid>_group and <gid>_group_jobs)  2 ttl seconds  3 dead-letter max
--   4 job-done channel  5 max attempts  6 job-cancel channel
local q = { high = KEYS[1], normal = KEYS[2], low = KEYS[3], processing = KEYS[4], leases = KEYS[5],
  delayed = KEYS[6], counts = KEYS[7], dead_letter = KEYS[8], owners = KEYS[9], wake = KEYS[10],
  deadlines = KEYS[11], outbox = KEYS[12], cb_attempts = KEYS[13], orphans = KEYS[14], cb_dead = KEYS[15],
  slots = KEYS[19],
  group = ARGV[1], ttl = tonumber(ARGV[2]), dead_max = tonumber(ARGV[3]), done = ARGV[4],
  max_attempts = tonumber(ARGV[5]), cancel = ARGV[6] }
if q.group ~= '' then q.group_record, q.group_jobs = KEYS[#KEYS - 1], KEYS[#KEYS] end

-- Milliseconds from the Redis clock: leases, retries and deadlines never depend on a worker's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

${FAIR_ORDER}
-- The job's group when this step was not given its keys, else false. A step that would end the
-- job checks it before its first write and answers { 'need_group', gid } instead: a job's group
-- never changes, so the caller's second call, with the group's keys, finds the same answer.
local function group_missing(record)
  local g = redis.call('HGET', record, 'group')
  if g and g ~= '' and g ~= q.group then return g end
  return false
end

-- One token per runnable job wakes one idle worker (BRPOP); capped, and workers also look on
-- their own from time to time, so a trimmed token costs a little latency, never a job.
local function wake(n)
  local length = 0
  for _ = 1, n do length = redis.call('LPUSH', q.wake, '1') end
  if length > ${WAKE_CAP} then redis.call('LTRIM', q.wake, 0, ${WAKE_CAP - 1}) end
end

-- Queue a job that may run again (a retry, a requeue): it is older than what waits.
local function make_runnable(id, record)
  local f = redis.call('HMGET', record, 'priority', 'owner')
  queue_oldest(id, f[1], f[2] or '')
  wake(1)
end

local function queued_depth()
  return redis.call('LLEN', q.high) + redis.call('LLEN', q.normal) + redis.call('LLEN', q.low)
end

-- Ends a claim: no lease fields, off the processing list and the lease zset.
local function end_claim(id, record)
  redis.call('HDEL', record, 'lease_owner', 'lease_token', 'lease_deadline')
  redis.call('LREM', q.processing, -1, id)
  redis.call('ZREM', q.leases, id)
end

-- A callback into the outbox, with who it is for and where it goes beside it (the deliverers
-- serve API keys in turn and rest a failing receiver): the key's name and the URL's origin
-- (scheme://host:port, lower case, no user info; the proxy stores URLs as the URL parser
-- writes them, so one receiver is spelled one way).
local function outbox_add(entry, owner, url, now)
  local origin = string.match(url, '^[%a][%w+.-]*://[^/?#]*') or ''
  origin = string.lower((string.gsub(origin, '//[^@]*@', '//')))
  redis.call('ZADD', q.outbox, now, entry)
  redis.call('HSET', q.cb_attempts, 'to:' .. entry, (owner or '') .. '\\n' .. origin)
end

-- Everything that follows a job's end, in the step that ends it: its API key's count of
-- unfinished jobs goes down, its deadline is dropped, its callback (or its group's, when it was
-- the group's last job) goes into the outbox, every key gets a fresh TTL, and long polls hear of it.
local function job_ended(id, record, image_in, now)
  local f = redis.call('HMGET', record, 'owner', 'group', 'callback_url')
  if f[1] and f[1] ~= '' then
    if redis.call('HINCRBY', q.owners, f[1], -1) <= 0 then redis.call('HDEL', q.owners, f[1]) end
  end
  redis.call('ZREM', q.deadlines, id)
  if f[3] and f[3] ~= '' then outbox_add('job:' .. id, f[1], f[3], now) end
  redis.call('EXPIRE', record, q.ttl)
  redis.call('EXPIRE', image_in, q.ttl)
  redis.call('PUBLISH', q.done, id)
  if f[2] and f[2] ~= '' then
    -- Checked by group_missing before the step's first write; here only as a last guard.
    if f[2] ~= q.group then error('job_ended: not given the keys of group ' .. f[2]) end
    local group, group_jobs = q.group_record, q.group_jobs
    if redis.call('HINCRBY', group, 'unfinished', -1) == 0 then
      redis.call('HSET', group, 'finished_at', now)
      local g = redis.call('HMGET', group, 'callback_url', 'owner')
      if g[1] then outbox_add('group:' .. f[2], g[2], g[1], now) end
      redis.call('PUBLISH', q.done, f[2])
    end
    -- A group lives as long as its newest-ended job.
    redis.call('EXPIRE', group, q.ttl)
    redis.call('EXPIRE', group_jobs, q.ttl)
  end
end

-- FAILED with a reason, counted and dead-lettered (newest first, capped).
local function finish_failed(id, record, image_in, code, message, now)
  end_claim(id, record)
  redis.call('HSET', record, 'status', 'FAILED', 'finished_at', now, 'error_code', code, 'error_message', message)
  redis.call('HDEL', record, 'retry_at')
  redis.call('HINCRBY', q.counts, 'failed', 1)
  local attempts = tonumber(redis.call('HGET', record, 'attempts') or '0')
  redis.call('LPUSH', q.dead_letter,
    cjson.encode({ job_id = id, code = code, message = message, attempts = attempts, failed_at = now }))
  redis.call('LTRIM', q.dead_letter, 0, q.dead_max - 1)
  job_ended(id, record, image_in, now)
end

-- Cancels one job that has not ended: off its queue (or the retry set, or its claim), CANCELLED.
-- A running job's worker is told on the cancel channel, and its late result is refused by the
-- fencing check (the job is no longer RUNNING). Returns false when the job had already ended.
local function cancel_job(id, record, image_in, now)
  local f = redis.call('HMGET', record, 'status', 'priority', 'owner')
  if f[1] == 'QUEUED' then
    -- A retry waiting for its time is in the retry set, not on a queue.
    if redis.call('ZREM', q.delayed, id) == 0 then unqueue(id, f[2], f[3] or '') end
  elseif f[1] == 'RUNNING' then
    end_claim(id, record)
    redis.call('PUBLISH', q.cancel, id)
  else
    return false
  end
  redis.call('HSET', record, 'status', 'CANCELLED', 'finished_at', now, 'error_code', 'CANCELLED',
    'error_message', 'the job was cancelled (DELETE) before it finished')
  redis.call('HDEL', record, 'retry_at')
  redis.call('HINCRBY', q.counts, 'cancelled', 1)
  job_ended(id, record, image_in, now)
  return true
end
`;

/**
 * The fencing check. 'owner' while the caller's claim is the current one: the same token and,
 * when the caller names itself (owner ~= ''), the same lease_owner. A token is the claim's
 * counter and a random nonce the taker made ("3:Jq0x..."), so it is never handed out twice even
 * when Redis loses writes (a failover to a lagging replica, AOF everysec, a restore) and the
 * counter repeats. When the caller already ended this claim itself (its reply was lost and it
 * is writing again), the outcome it recorded ('succeeded', 'failed', 'retry', 'released'), so a
 * repeated write is answered as done and never applied twice. Otherwise false. Only a worker's
 * own endings record an outcome, never the reaper's or a cancel's, so a worker that lost its
 * claim is refused.
 */
export const LEASE_STATE = `
local function lease_state(record, token, owner)
  local f = redis.call('HMGET', record, 'status', 'lease_token', 'settled', 'lease_owner')
  if f[1] == 'RUNNING' and f[2] == token and (owner == '' or f[4] == owner) then return 'owner' end
  local mine = token .. ':'
  if f[3] and string.sub(f[3], 1, #mine) == mine then return string.sub(f[3], #mine + 1) end
  return false
end
`;

/** Milliseconds from the Redis clock, for the small scripts that do not take the prelude. */
export const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
