import { LuaScript } from '../lua-script.js';
import { END_CLAIM, FINISH_FAILED, JOB_KEYS, NOW_MS } from './lua-lib.js';

export const reapScript = new LuaScript(`
-- The reaper's round, run by whoever holds reaper_lock; each part looks at a bounded number
-- of ids, so one call never holds Redis long (the caller runs it again when a part was full).
-- 1. Retries that are due go back onto the queue, at the front: they are older than new work.
-- 2. Expired leases (the worker died or hung): QUEUED again at the front, or FAILED
--    WORKER_LOST once the job has been taken max-attempts times.
-- 3. Ids in processing without a lease (left by an older version or a partial restore): noted
--    the first time, put back on the queue when still lease-less a grace period later.
-- KEYS[1] job_id   KEYS[2] job_id_processing   KEYS[3] job_leases   KEYS[4] job_delayed
-- KEYS[5] job_orphans   KEYS[6] job_counts   KEYS[7] job_dead_letter   KEYS[8] job_owner_active
-- ARGV[1] key prefix   ARGV[2] max attempts   ARGV[3] orphan grace ms   ARGV[4] ttl seconds
-- ARGV[5] dead-letter max   ARGV[6] most ids per part   ARGV[7] most processing ids to scan
-- ARGV[8] job-done channel (for the ids it ends FAILED)
-- Returns { promoted ids, requeued ids, failed ids, orphan ids put back }.
${NOW_MS}${JOB_KEYS}${END_CLAIM}${FINISH_FAILED}
local q = { queue = KEYS[1], processing = KEYS[2], leases = KEYS[3], counts = KEYS[6],
  dead_letter = KEYS[7], ttl = tonumber(ARGV[4]), dead_max = tonumber(ARGV[5]), done = ARGV[8], owners = KEYS[8] }
local prefix, max_attempts, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6])
local now = now_ms()
local promoted, requeued, failed, orphans = {}, {}, {}, {}

local function requeue(id, record)
  end_claim(q, id, record)
  redis.call('HSET', record, 'status', 'QUEUED')
  redis.call('RPUSH', q.queue, id)
end

-- 1. Latest due first, so the earliest due ends up rightmost and is taken first.
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
for i = #due, 1, -1 do
  local id = due[i]
  local record = job_keys(prefix, id)
  redis.call('ZREM', KEYS[4], id)
  if redis.call('HGET', record, 'status') == 'QUEUED' then
    redis.call('HDEL', record, 'retry_at')
    redis.call('RPUSH', q.queue, id)
    promoted[#promoted + 1] = id
  end
end

-- 2.
local expired = redis.call('ZRANGEBYSCORE', q.leases, '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
  local record, image_in = job_keys(prefix, id)
  local f = redis.call('HMGET', record, 'status', 'attempts')
  local attempts = tonumber(f[2] or '0')
  if f[1] ~= 'RUNNING' then
    end_claim(q, id, record)
  elseif attempts >= max_attempts then
    finish_failed(q, id, record, image_in, 'WORKER_LOST', 'the worker processing the job stopped responding ' ..
      attempts .. ' times (it crashed, hung or lost Redis); it will not be tried again', now)
    failed[#failed + 1] = id
  else
    redis.call('HSET', record, 'last_error_code', 'WORKER_LOST',
      'last_error_message', 'the worker processing the job stopped responding')
    requeue(id, record)
    requeued[#requeued + 1] = id
  end
end

-- 3. The oldest end of processing: long-lived entries drift there.
local grace = tonumber(ARGV[3])
for _, id in ipairs(redis.call('LRANGE', q.processing, -tonumber(ARGV[7]), -1)) do
  if redis.call('ZSCORE', q.leases, id) then
    redis.call('HDEL', KEYS[5], id)
  else
    local seen = redis.call('HGET', KEYS[5], id)
    if not seen then
      redis.call('HSET', KEYS[5], id, now)
    elseif now - tonumber(seen) >= grace then
      redis.call('HDEL', KEYS[5], id)
      local record = job_keys(prefix, id)
      local status = redis.call('HGET', record, 'status')
      if status == 'RUNNING' or status == 'QUEUED' then
        requeue(id, record)
        orphans[#orphans + 1] = id
      else
        redis.call('LREM', q.processing, -1, id)
      end
    end
  end
end
for _, id in ipairs(redis.call('HKEYS', KEYS[5])) do
  if not redis.call('LPOS', q.processing, id) then redis.call('HDEL', KEYS[5], id) end
end
return { promoted, requeued, failed, orphans }
`);
