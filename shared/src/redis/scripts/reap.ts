import { LuaScript } from '../lua-script.js';
import { PRELUDE } from './lua-lib.js';

// The reaper's round is a scan over the queue's own keys, then one step per id it found, each
// given that id's keys and re-checking its condition inside (a worker that renewed, finished or
// was cancelled in between makes the step a no-op). Both run while Redis is over maxmemory
// (allow-oom): recovery must go on when Redis is full, and it only moves ids or ends jobs.

export const reapScanScript = new LuaScript(
  `
-- Find the reaper's work, each part bounded so one call never holds Redis long (the caller runs
-- another round when a part was full), and keep the notes on lease-less ids:
-- 1. retries that are due;  2. expired leases;  3. ids in processing without a lease (left by
-- an older version or a partial restore), noted the first time and listed once still lease-less
-- a grace period later;  4. jobs whose start deadline passed.
-- ARGV[7] orphan grace ms   ARGV[8] most ids per part   ARGV[9] most processing ids to scan
-- Returns { due ids (earliest first), expired ids, orphan ids past their grace, deadline ids }.
${PRELUDE}
local limit = tonumber(ARGV[8])
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', q.delayed, '-inf', now, 'LIMIT', 0, limit)
local expired = redis.call('ZRANGEBYSCORE', q.leases, '-inf', now, 'LIMIT', 0, limit)
local orphans = {}
local grace = tonumber(ARGV[7])
-- The oldest end of processing: long-lived entries drift there.
for _, id in ipairs(redis.call('LRANGE', q.processing, -tonumber(ARGV[9]), -1)) do
  if redis.call('ZSCORE', q.leases, id) then
    redis.call('HDEL', q.orphans, id)
  else
    local seen = redis.call('HGET', q.orphans, id)
    if not seen then
      redis.call('HSET', q.orphans, id, now)
    elseif now - tonumber(seen) >= grace then
      orphans[#orphans + 1] = id
    end
  end
end
for _, id in ipairs(redis.call('HKEYS', q.orphans)) do
  if not redis.call('LPOS', q.processing, id) then redis.call('HDEL', q.orphans, id) end
end
local deadlines = redis.call('ZRANGEBYSCORE', q.deadlines, '-inf', now, 'LIMIT', 0, limit)
return { due, expired, orphans, deadlines }
`,
  { allowOom: true },
);

export const reapJobScript = new LuaScript(
  `
-- One id of the reaper's scan, its condition checked again here:
-- 'due': a retry whose time came goes back onto its queue at the oldest end (it is older than new work).
-- 'lease': an expired lease (the worker died or hung): QUEUED again at the oldest end, or
--   FAILED WORKER_LOST once the job has been taken max-attempts times.
-- 'orphan': an id in processing still without a lease after its grace: put back on the queue.
-- 'deadline': a job whose start deadline passed ends FAILED DEADLINE_EXCEEDED where it waits,
--   so a stale backlog drains without a worker taking each one.
-- KEYS[20] <id>_job   KEYS[21] <id>_image_in   (then the group's keys when ARGV[1] names it)
-- ARGV[7] 'due', 'lease', 'orphan' or 'deadline'   ARGV[8] job id   ARGV[9] orphan grace ms
-- Returns 'promoted', 'requeued', 'failed', 'orphan', 'deadline', 0 when there was nothing (more)
-- to do, or { 'need_group', gid } (nothing written).
${PRELUDE}
local kind, id, record, image_in = ARGV[7], ARGV[8], KEYS[20], KEYS[21]
local now = now_ms()

local function requeue()
  end_claim(id, record)
  redis.call('HSET', record, 'status', 'QUEUED')
  make_runnable(id, record)
end

local function is_due(set)
  local at = tonumber(redis.call('ZSCORE', set, id) or '')
  return at ~= nil and at <= now
end

if kind == 'due' then
  if not is_due(q.delayed) then return 0 end
  redis.call('ZREM', q.delayed, id)
  if redis.call('HGET', record, 'status') ~= 'QUEUED' then return 0 end
  redis.call('HDEL', record, 'retry_at')
  make_runnable(id, record)
  return 'promoted'
elseif kind == 'lease' then
  if not is_due(q.leases) then return 0 end
  local f = redis.call('HMGET', record, 'status', 'attempts')
  local attempts = tonumber(f[2] or '0')
  if f[1] ~= 'RUNNING' then
    end_claim(id, record)
    return 0
  elseif attempts >= q.max_attempts then
    local missing = group_missing(record)
    if missing then return { 'need_group', missing } end
    finish_failed(id, record, image_in, 'WORKER_LOST', 'the worker processing the job stopped responding ' ..
      attempts .. ' times (it crashed, hung or lost Redis); it will not be tried again', now)
    return 'failed'
  end
  redis.call('HSET', record, 'last_error_code', 'WORKER_LOST',
    'last_error_message', 'the worker processing the job stopped responding')
  requeue()
  return 'requeued'
elseif kind == 'orphan' then
  if redis.call('ZSCORE', q.leases, id) then
    redis.call('HDEL', q.orphans, id)
    return 0
  end
  local seen = tonumber(redis.call('HGET', q.orphans, id) or '')
  if not seen or now - seen < tonumber(ARGV[9]) then return 0 end
  redis.call('HDEL', q.orphans, id)
  if not redis.call('LPOS', q.processing, id) then return 0 end
  local status = redis.call('HGET', record, 'status')
  if status == 'RUNNING' or status == 'QUEUED' then
    requeue()
    return 'orphan'
  end
  redis.call('LREM', q.processing, -1, id)
  return 0
elseif kind == 'deadline' then
  if not is_due(q.deadlines) then return 0 end
  local f = redis.call('HMGET', record, 'status', 'priority', 'owner')
  if f[1] ~= 'QUEUED' then
    redis.call('ZREM', q.deadlines, id)
    return 0
  end
  local missing = group_missing(record)
  if missing then return { 'need_group', missing } end
  if redis.call('ZREM', q.delayed, id) == 0 then unqueue(id, f[2], f[3] or '') end
  finish_failed(id, record, image_in, 'DEADLINE_EXCEEDED', 'the job was not started within its deadline_s; it did not run', now)
  return 'deadline'
end
return redis.error_reply('reap: unknown kind ' .. tostring(kind))
`,
  { allowOom: true },
);
