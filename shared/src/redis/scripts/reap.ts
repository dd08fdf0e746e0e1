import { LuaScript } from '../lua-script.js';
import { PRELUDE } from './lua-lib.js';

export const reapScript = new LuaScript(`
-- The reaper's round, run by whoever holds reaper_lock; each part looks at a bounded number
-- of ids, so one call never holds Redis long (the caller runs it again when a part was full).
-- 1. Retries that are due go back onto their queue, at the oldest end: they are older than new work.
-- 2. Expired leases (the worker died or hung): QUEUED again at the oldest end, or FAILED
--    WORKER_LOST once the job has been taken max-attempts times.
-- 3. Ids in processing without a lease (left by an older version or a partial restore): noted
--    the first time, put back on the queue when still lease-less a grace period later.
-- 4. Jobs whose deadline passed before they started end FAILED DEADLINE_EXCEEDED where they
--    wait, so a stale backlog drains without a worker taking each one.
-- ARGV[7] orphan grace ms   ARGV[8] most ids per part   ARGV[9] most processing ids to scan
-- Returns { promoted ids, requeued ids, failed ids, orphan ids put back, deadline-failed ids }.
${PRELUDE}
local limit = tonumber(ARGV[8])
local now = now_ms()
local promoted, requeued, failed, orphans, expired_deadlines = {}, {}, {}, {}, {}

local function requeue(id, record)
  end_claim(id, record)
  redis.call('HSET', record, 'status', 'QUEUED')
  make_runnable(id, record, true)
end

-- 1. Latest due first, so the earliest due ends up oldest and is taken first.
local due = redis.call('ZRANGEBYSCORE', q.delayed, '-inf', now, 'LIMIT', 0, limit)
for i = #due, 1, -1 do
  local id = due[i]
  local record = job_keys(id)
  redis.call('ZREM', q.delayed, id)
  if redis.call('HGET', record, 'status') == 'QUEUED' then
    redis.call('HDEL', record, 'retry_at')
    make_runnable(id, record, true)
    promoted[#promoted + 1] = id
  end
end

-- 2.
local expired = redis.call('ZRANGEBYSCORE', q.leases, '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
  local record, image_in = job_keys(id)
  local f = redis.call('HMGET', record, 'status', 'attempts')
  local attempts = tonumber(f[2] or '0')
  if f[1] ~= 'RUNNING' then
    end_claim(id, record)
  elseif attempts >= q.max_attempts then
    finish_failed(id, record, image_in, 'WORKER_LOST', 'the worker processing the job stopped responding ' ..
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
local grace = tonumber(ARGV[7])
for _, id in ipairs(redis.call('LRANGE', q.processing, -tonumber(ARGV[9]), -1)) do
  if redis.call('ZSCORE', q.leases, id) then
    redis.call('HDEL', q.orphans, id)
  else
    local seen = redis.call('HGET', q.orphans, id)
    if not seen then
      redis.call('HSET', q.orphans, id, now)
    elseif now - tonumber(seen) >= grace then
      redis.call('HDEL', q.orphans, id)
      local record = job_keys(id)
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
for _, id in ipairs(redis.call('HKEYS', q.orphans)) do
  if not redis.call('LPOS', q.processing, id) then redis.call('HDEL', q.orphans, id) end
end

-- 4.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', q.deadlines, '-inf', now, 'LIMIT', 0, limit)) do
  local record, image_in = job_keys(id)
  local f = redis.call('HMGET', record, 'status', 'priority')
  if f[1] == 'QUEUED' then
    redis.call('LREM', queue_of(f[2]), 0, id)
    redis.call('ZREM', q.delayed, id)
    finish_failed(id, record, image_in, 'DEADLINE_EXCEEDED', 'the job was not started within its deadline_s; it did not run', now)
    expired_deadlines[#expired_deadlines + 1] = id
  else
    redis.call('ZREM', q.deadlines, id)
  end
end
return { promoted, requeued, failed, orphans, expired_deadlines }
`);
