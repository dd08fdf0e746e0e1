import { LuaScript } from '../lua-script.js';
import { END_CLAIM, FINISH_FAILED, JOB_KEYS, NOW_MS } from './lua-lib.js';

export const takeScript = new LuaScript(`
-- Take the oldest waiting job with a lease, in one step: off the queue onto the processing
-- list, one more attempt, a new fencing token, RUNNING, and a lease the reaper can find.
-- Ids that cannot run are settled on the way: one whose record expired (or that already
-- ended) is dropped; one whose input expired, or that has used up its attempts (it kept
-- losing its workers), ends FAILED with INPUT_EXPIRED or TOO_MANY_ATTEMPTS.
-- KEYS[1] job_id   KEYS[2] job_id_processing   KEYS[3] job_leases   KEYS[4] job_counts
-- KEYS[5] job_dead_letter   KEYS[6] job_owner_active
-- ARGV[1] key prefix   ARGV[2] worker id   ARGV[3] lease ms   ARGV[4] max attempts
-- ARGV[5] ttl seconds   ARGV[6] dead-letter max   ARGV[7] most ids to look at
-- ARGV[8] job-done channel (for the ids it ends FAILED)
-- Returns { {id, token, attempts, input base64, options JSON or ''} or {} when none,
--   {failed id, code, ...}, dropped count }.
${NOW_MS}${JOB_KEYS}${END_CLAIM}${FINISH_FAILED}
local q = { processing = KEYS[2], leases = KEYS[3], counts = KEYS[4], dead_letter = KEYS[5], owners = KEYS[6],
  ttl = tonumber(ARGV[5]), dead_max = tonumber(ARGV[6]), done = ARGV[8] }
local max_attempts = tonumber(ARGV[4])
local now = now_ms()
local failed, dropped = {}, 0
local function give_up(id, record, image_in, code, message)
  finish_failed(q, id, record, image_in, code, message, now)
  failed[#failed + 1] = id
  failed[#failed + 1] = code
end
for _ = 1, tonumber(ARGV[7]) do
  local id = redis.call('RPOP', KEYS[1])
  if not id then break end
  local record, image_in = job_keys(ARGV[1], id)
  local f = redis.call('HMGET', record, 'status', 'attempts', 'options')
  local attempts = tonumber(f[2] or '0')
  local input = f[1] == 'QUEUED' and redis.call('GET', image_in)
  if f[1] ~= 'QUEUED' then
    dropped = dropped + 1
  elseif not input then
    give_up(id, record, image_in, 'INPUT_EXPIRED', 'the input image expired before a worker took the job; submit it again')
  elseif attempts >= max_attempts then
    give_up(id, record, image_in, 'TOO_MANY_ATTEMPTS', 'the job was taken ' .. attempts ..
      ' times and never finished (its worker crashed or stopped responding each time); it will not be tried again')
  else
    redis.call('LPUSH', q.processing, id)
    attempts = redis.call('HINCRBY', record, 'attempts', 1)
    local token = redis.call('HINCRBY', record, 'token', 1)
    local deadline = now + tonumber(ARGV[3])
    redis.call('HSET', record, 'status', 'RUNNING', 'started_at', now,
      'lease_owner', ARGV[2], 'lease_token', token, 'lease_deadline', deadline)
    redis.call('ZADD', q.leases, deadline, id)
    -- A job may have waited most of its TTL in the queue: give it the full TTL to run.
    redis.call('EXPIRE', record, ARGV[5])
    redis.call('EXPIRE', image_in, ARGV[5])
    return { { id, token, attempts, input, f[3] or '' }, failed, dropped }
  end
end
return { {}, failed, dropped }
`);
