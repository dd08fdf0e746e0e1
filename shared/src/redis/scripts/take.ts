import { LuaScript } from '../lua-script.js';
import { PRELUDE } from './lua-lib.js';

export const takeScript = new LuaScript(`
-- Take the oldest waiting job of the highest priority that has one, with a lease, in one step:
-- off its queue onto the processing list, one more attempt, a new fencing token, RUNNING, and a
-- lease the reaper can find. Ids that cannot run are settled on the way: one whose record is
-- gone (or that already ended) is dropped; one whose input is gone, that used up its attempts,
-- or whose deadline passed before it started ends FAILED (INPUT_EXPIRED, TOO_MANY_ATTEMPTS,
-- DEADLINE_EXCEEDED) without running.
-- ARGV[7] worker id   ARGV[8] lease ms   ARGV[9] most ids to look at
-- Returns { {id, token, attempts, input base64, options JSON or '', format, width, height} or {} when none,
--   {failed id, code, ...}, dropped count }.
${PRELUDE}
local now = now_ms()
local failed, dropped = {}, 0
local function give_up(id, record, image_in, code, message)
  finish_failed(id, record, image_in, code, message, now)
  failed[#failed + 1] = id
  failed[#failed + 1] = code
end
local function next_id()
  return redis.call('RPOP', q.high) or redis.call('RPOP', q.normal) or redis.call('RPOP', q.low)
end
for _ = 1, tonumber(ARGV[9]) do
  local id = next_id()
  if not id then break end
  local record, image_in = job_keys(id)
  local f = redis.call('HMGET', record, 'status', 'attempts', 'options', 'format', 'width', 'height', 'created_at')
  local attempts = tonumber(f[2] or '0')
  local input = f[1] == 'QUEUED' and redis.call('GET', image_in)
  local deadline = f[1] == 'QUEUED' and tonumber(redis.call('ZSCORE', q.deadlines, id) or '')
  if f[1] ~= 'QUEUED' then
    dropped = dropped + 1
  elseif not input then
    give_up(id, record, image_in, 'INPUT_EXPIRED', 'the input image is gone from the store (expired or evicted) before a worker took the job; submit it again')
  elseif deadline and deadline <= now then
    give_up(id, record, image_in, 'DEADLINE_EXCEEDED', 'the job was not started within its deadline_s; it did not run')
  elseif attempts >= q.max_attempts then
    give_up(id, record, image_in, 'TOO_MANY_ATTEMPTS', 'the job was taken ' .. attempts ..
      ' times and never finished (its worker crashed or stopped responding each time); it will not be tried again')
  else
    redis.call('LPUSH', q.processing, id)
    -- Started: the deadline (which is about starting) no longer applies.
    redis.call('ZREM', q.deadlines, id)
    attempts = redis.call('HINCRBY', record, 'attempts', 1)
    local token = redis.call('HINCRBY', record, 'token', 1)
    local lease_deadline = now + tonumber(ARGV[8])
    redis.call('HSET', record, 'status', 'RUNNING', 'started_at', now,
      'lease_owner', ARGV[7], 'lease_token', token, 'lease_deadline', lease_deadline)
    redis.call('ZADD', q.leases, lease_deadline, id)
    -- The last field, ms since submit by Redis's clock, is batch's queue-wait metric.
    return { { id, token, attempts, input, f[3] or '', f[4] or '', f[5] or '0', f[6] or '0', now - tonumber(f[7] or now) }, failed, dropped }
  end
end
return { {}, failed, dropped }
`);
