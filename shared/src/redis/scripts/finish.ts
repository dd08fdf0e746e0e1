import { LuaScript } from '../lua-script.js';
import { END_CLAIM, FINISH_FAILED, LEASE_STATE, NOW_MS, RELEASE_OWNER } from './lua-lib.js';

// complete, fail and retry write only for the current claim (fencing): a worker whose lease
// was reaped and handed to another gets 0 and writes nothing. A repeat of the same write for
// the same claim (its first reply was lost) answers as done without writing again.

export const completeScript = new LuaScript(`
-- Store a job's output and mark it SUCCEEDED, in one step. Every key of the job gets a
-- fresh TTL, so a result stays readable for the full TTL. The worker's stage timings are
-- stored with the queue wait added (from the record's own times, on the Redis clock), and the
-- id is published on the job-done channel for long polls.
-- KEYS[1] job_id_processing   KEYS[2] job_leases   KEYS[3] <id>_job   KEYS[4] <id>_image_out
-- KEYS[5] <id>_image_in   KEYS[6] job_counts   KEYS[7] job_owner_active
-- ARGV[1] job id   ARGV[2] fencing token   ARGV[3] output base64   ARGV[4] ttl seconds
-- ARGV[5] job-done channel   ARGV[6] timings: a JSON object, or '' for none
-- Returns 1 when stored, 0 when the claim is no longer the caller's (nothing written).
${NOW_MS}${LEASE_STATE}${END_CLAIM}${RELEASE_OWNER}
local state = lease_state(KEYS[3], ARGV[2])
if state == 'succeeded' then return 1 end
if state ~= 'owner' then return 0 end
local function timings_with_queue_wait(json)
  local ok, t = pcall(cjson.decode, json)
  if not ok or type(t) ~= 'table' then return nil end
  local f = redis.call('HMGET', KEYS[3], 'created_at', 'started_at')
  local created, started = tonumber(f[1]), tonumber(f[2])
  if created and started then t.queue_wait_ms = started - created end
  -- An empty table would encode as [], and the field must always be an object.
  if next(t) == nil then return '{}' end
  return cjson.encode(t)
end
end_claim({ processing = KEYS[1], leases = KEYS[2] }, ARGV[1], KEYS[3])
release_owner(KEYS[7], KEYS[3])
redis.call('SET', KEYS[4], ARGV[3], 'EX', ARGV[4])
redis.call('HSET', KEYS[3], 'status', 'SUCCEEDED', 'finished_at', now_ms(), 'settled', ARGV[2] .. ':succeeded')
if ARGV[6] ~= '' then
  local timings = timings_with_queue_wait(ARGV[6])
  if timings then redis.call('HSET', KEYS[3], 'timings', timings) end
end
redis.call('HINCRBY', KEYS[3], 'output_writes', 1)
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('EXPIRE', KEYS[5], ARGV[4])
redis.call('HINCRBY', KEYS[6], 'succeeded', 1)
redis.call('PUBLISH', ARGV[5], ARGV[1])
return 1
`);

export const failScript = new LuaScript(`
-- Mark a job FAILED with a reason and dead-letter it, in one step.
-- KEYS[1] job_id_processing   KEYS[2] job_leases   KEYS[3] <id>_job   KEYS[4] <id>_image_in
-- KEYS[5] job_counts   KEYS[6] job_dead_letter   KEYS[7] job_owner_active
-- ARGV[1] job id   ARGV[2] fencing token   ARGV[3] error code   ARGV[4] error message
-- ARGV[5] ttl seconds   ARGV[6] dead-letter max   ARGV[7] job-done channel
-- Returns 1 when recorded, 0 when the claim is no longer the caller's (nothing written).
${NOW_MS}${END_CLAIM}${FINISH_FAILED}${LEASE_STATE}
local state = lease_state(KEYS[3], ARGV[2])
if state == 'failed' then return 1 end
if state ~= 'owner' then return 0 end
local q = { processing = KEYS[1], leases = KEYS[2], counts = KEYS[5], dead_letter = KEYS[6],
  ttl = tonumber(ARGV[5]), dead_max = tonumber(ARGV[6]), done = ARGV[7], owners = KEYS[7] }
finish_failed(q, ARGV[1], KEYS[3], KEYS[4], ARGV[3], ARGV[4], now_ms())
redis.call('HSET', KEYS[3], 'settled', ARGV[2] .. ':failed')
return 1
`);

export const retryScript = new LuaScript(`
-- A retryable failure: QUEUED again once the delay has passed (the reaper moves due jobs
-- back onto the queue), or FAILED with this error when the job has used up its attempts.
-- KEYS[1] job_id_processing   KEYS[2] job_leases   KEYS[3] job_delayed   KEYS[4] <id>_job
-- KEYS[5] <id>_image_in   KEYS[6] job_counts   KEYS[7] job_dead_letter   KEYS[8] job_owner_active
-- ARGV[1] job id   ARGV[2] fencing token   ARGV[3] error code   ARGV[4] error message
-- ARGV[5] delay ms   ARGV[6] max attempts   ARGV[7] ttl seconds   ARGV[8] dead-letter max
-- ARGV[9] job-done channel (published only when the job ends FAILED)
-- Returns 'retry', 'failed', or 0 when the claim is no longer the caller's (nothing written).
${NOW_MS}${END_CLAIM}${FINISH_FAILED}${LEASE_STATE}
local id, record, image_in = ARGV[1], KEYS[4], KEYS[5]
local state = lease_state(record, ARGV[2])
if state == 'retry' or state == 'failed' then return state end
if state ~= 'owner' then return 0 end
local q = { processing = KEYS[1], leases = KEYS[2], counts = KEYS[6], dead_letter = KEYS[7],
  ttl = tonumber(ARGV[7]), dead_max = tonumber(ARGV[8]), done = ARGV[9], owners = KEYS[8] }
local now = now_ms()
if tonumber(redis.call('HGET', record, 'attempts') or '0') >= tonumber(ARGV[6]) then
  finish_failed(q, id, record, image_in, ARGV[3], ARGV[4], now)
  redis.call('HSET', record, 'settled', ARGV[2] .. ':failed')
  return 'failed'
end
end_claim(q, id, record)
local due = now + tonumber(ARGV[5])
redis.call('HSET', record, 'status', 'QUEUED', 'retry_at', due, 'settled', ARGV[2] .. ':retry',
  'last_error_code', ARGV[3], 'last_error_message', ARGV[4])
redis.call('ZADD', KEYS[3], due, id)
redis.call('EXPIRE', record, q.ttl)
redis.call('EXPIRE', image_in, q.ttl)
return 'retry'
`);
