import { LuaScript } from '../lua-script.js';
import { LEASE_STATE, PRELUDE } from './lua-lib.js';

// complete, fail and retry write only for the current claim (fencing): a worker whose lease
// was reaped and handed to another, or whose job was cancelled, gets 0 and writes nothing. A
// repeat of the same write for the same claim (its first reply was lost) answers as done
// without writing again. Each may end the job, so each is given the job's group (common ARGV[1]
// and the last two KEYS) or answers { 'need_group', gid } before writing anything.

export const completeScript = new LuaScript(`
-- Store a job's output and mark it SUCCEEDED, in one step, with everything a job's end brings
-- (job_ended: a fresh TTL on every key, the callback in the outbox, the group's count, the
-- job-done publish). The worker's stage timings are stored with the queue wait added (from the
-- record's own times, on the Redis clock). Refused whole while Redis is over maxmemory (no
-- allow-oom): the output is the largest thing a job writes; the worker keeps its lease and
-- tries again.
-- KEYS[20] <id>_job   KEYS[21] <id>_image_out   KEYS[22] <id>_image_in   (then the group's keys)
-- ARGV[7] job id   ARGV[8] fencing token   ARGV[9] output base64   ARGV[10] timings JSON or ''
-- ARGV[11] worker id ('' = not checked)
-- Returns 1 when stored, 0 when the claim is no longer the caller's (nothing written), or
-- { 'need_group', gid }.
${PRELUDE}${LEASE_STATE}
local id, record = ARGV[7], KEYS[20]
local state = lease_state(record, ARGV[8], ARGV[11])
if state == 'succeeded' then return 1 end
if state ~= 'owner' then return 0 end
local missing = group_missing(record)
if missing then return { 'need_group', missing } end
local function timings_with_queue_wait(json)
  local ok, t = pcall(cjson.decode, json)
  if not ok or type(t) ~= 'table' then return nil end
  local f = redis.call('HMGET', record, 'created_at', 'started_at')
  local created, started = tonumber(f[1]), tonumber(f[2])
  if created and started then t.queue_wait_ms = started - created end
  -- An empty table would encode as [], and the field must always be an object.
  if next(t) == nil then return '{}' end
  return cjson.encode(t)
end
local now = now_ms()
end_claim(id, record)
redis.call('SET', KEYS[21], ARGV[9], 'EX', q.ttl)
redis.call('HSET', record, 'status', 'SUCCEEDED', 'finished_at', now, 'settled', ARGV[8] .. ':succeeded')
if ARGV[10] ~= '' then
  local timings = timings_with_queue_wait(ARGV[10])
  if timings then redis.call('HSET', record, 'timings', timings) end
end
redis.call('HINCRBY', record, 'output_writes', 1)
redis.call('HINCRBY', q.counts, 'succeeded', 1)
job_ended(id, record, KEYS[22], now)
return 1
`);

export const failScript = new LuaScript(
  `
-- Mark a job FAILED with a reason and dead-letter it, in one step. Runs while Redis is over
-- maxmemory (allow-oom): a job's end gives its keys their TTL, so it frees memory in time.
-- KEYS[20] <id>_job   KEYS[21] <id>_image_in   (then the group's keys)
-- ARGV[7] job id   ARGV[8] fencing token   ARGV[9] error code   ARGV[10] error message
-- ARGV[11] worker id ('' = not checked)
-- Returns 1 when recorded, 0 when the claim is no longer the caller's (nothing written), or
-- { 'need_group', gid }.
${PRELUDE}${LEASE_STATE}
local state = lease_state(KEYS[20], ARGV[8], ARGV[11])
if state == 'failed' then return 1 end
if state ~= 'owner' then return 0 end
local missing = group_missing(KEYS[20])
if missing then return { 'need_group', missing } end
finish_failed(ARGV[7], KEYS[20], KEYS[21], ARGV[9], ARGV[10], now_ms())
redis.call('HSET', KEYS[20], 'settled', ARGV[8] .. ':failed')
return 1
`,
  { allowOom: true },
);

export const retryScript = new LuaScript(
  `
-- A retryable failure: QUEUED again once the delay has passed (the reaper moves due jobs
-- back onto their queue), or FAILED with this error when the job has used up its attempts.
-- Runs while Redis is over maxmemory (allow-oom): it moves an id, or ends the job.
-- KEYS[20] <id>_job   KEYS[21] <id>_image_in   (then the group's keys)
-- ARGV[7] job id   ARGV[8] fencing token   ARGV[9] error code   ARGV[10] error message   ARGV[11] delay ms
-- ARGV[12] worker id ('' = not checked)
-- Returns 'retry', 'failed', 0 when the claim is no longer the caller's (nothing written), or
-- { 'need_group', gid }.
${PRELUDE}${LEASE_STATE}
local id, record, image_in = ARGV[7], KEYS[20], KEYS[21]
local state = lease_state(record, ARGV[8], ARGV[12])
if state == 'retry' or state == 'failed' then return state end
if state ~= 'owner' then return 0 end
local now = now_ms()
if tonumber(redis.call('HGET', record, 'attempts') or '0') >= q.max_attempts then
  local missing = group_missing(record)
  if missing then return { 'need_group', missing } end
  finish_failed(id, record, image_in, ARGV[9], ARGV[10], now)
  redis.call('HSET', record, 'settled', ARGV[8] .. ':failed')
  return 'failed'
end
end_claim(id, record)
local due = now + tonumber(ARGV[11])
redis.call('HSET', record, 'status', 'QUEUED', 'retry_at', due, 'settled', ARGV[8] .. ':retry',
  'last_error_code', ARGV[9], 'last_error_message', ARGV[10])
redis.call('ZADD', q.delayed, due, id)
return 'retry'
`,
  { allowOom: true },
);

export const cancelScript = new LuaScript(
  `
-- Cancel a job, or every unfinished job of a group, in one step (see cancel_job). Runs while
-- Redis is over maxmemory (allow-oom): it ends jobs, so their keys get their TTL.
-- A job: KEYS[20] <id>_job   KEYS[21] <id>_image_in   (then its group's keys)
-- A group (ARGV[1] is its id, its keys are the last two KEYS): KEYS[20..] each job's <id>_job
--   and <id>_image_in, in the order of <gid>_group_jobs, which the caller read.
-- ARGV[7] 'job' or 'group'   ARGV[8] the job's or the group's id   ARGV[9..] a group's job ids
-- Returns the number of jobs cancelled (0 when all had already ended), -1 for an unknown id,
-- or { 'need_group', gid } (a job of a group; nothing written).
${PRELUDE}
local now = now_ms()
if ARGV[7] == 'job' then
  if redis.call('EXISTS', KEYS[20]) == 0 then return -1 end
  local missing = group_missing(KEYS[20])
  if missing then return { 'need_group', missing } end
  if cancel_job(ARGV[8], KEYS[20], KEYS[21], now) then return 1 end
  return 0
end
if redis.call('EXISTS', q.group_record) == 0 then return -1 end
-- A group's job list never changes once it is queued; the caller read it just before.
local ids = redis.call('LRANGE', q.group_jobs, 0, -1)
if #ids ~= #ARGV - 8 then return redis.error_reply('cancel: the group has ' .. #ids .. ' jobs, ' .. (#ARGV - 8) .. ' were given') end
local cancelled = 0
for i, id in ipairs(ids) do
  if id ~= ARGV[8 + i] then return redis.error_reply('cancel: the group job list is not the one given') end
end
for i, id in ipairs(ids) do
  if cancel_job(id, KEYS[18 + i * 2], KEYS[19 + i * 2], now) then cancelled = cancelled + 1 end
end
return cancelled
`,
  { allowOom: true },
);
