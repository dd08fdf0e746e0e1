import { LuaScript } from '../lua-script.js';
import { PRELUDE } from './lua-lib.js';

export const takeScript = new LuaScript(`
-- Take the candidate (the id the caller read as the next one: the first in the fair order of the
-- highest priority that has work, see head() in fair-order.ts) with a lease, in one step: off
-- its list and its fair order onto the processing list, one more attempt, a new fencing token
-- (the claim counter and the caller's random nonce), RUNNING, and a lease the reaper can find;
-- the priority's round moves on to its slot. Refused whole while Redis is over maxmemory (no
-- allow-oom): a take hands out work whose output needs room.
-- When the candidate is no longer the next one (another worker took it), nothing is written and
-- the answer names the id that is. A candidate that cannot run is settled, one per call: one
-- whose record is gone (or that already ended) is dropped; one whose input is gone, that used up
-- its attempts, or whose deadline passed before it started ends FAILED (INPUT_EXPIRED,
-- TOO_MANY_ATTEMPTS, DEADLINE_EXCEEDED) without running; the answer names the next candidate.
-- KEYS[20] <id>_job   KEYS[21] <id>_image_in   (then the group's keys when ARGV[1] names it)
-- ARGV[7] worker id   ARGV[8] lease ms   ARGV[9] candidate id   ARGV[10] nonce
-- Returns { 'taken', token, attempts, input base64, options JSON or '', format, width, height, group or '',
--   ms since submit, the next candidate or '' },
--   { 'moved', next candidate or '' }, { 'dropped', next or '' }, { 'failed', code, next or '' },
--   or { 'need_group', gid } (nothing written: call again with that group's keys).
${PRELUDE}
local now = now_ms()
local id, record, image_in = ARGV[9], KEYS[20], KEYS[21]
local next_id, priority, score = head()
if next_id ~= id then return { 'moved', next_id or '' } end
local f = redis.call('HMGET', record, 'status', 'attempts', 'options', 'format', 'width', 'height', 'group', 'created_at', 'owner')
-- The owner whose queued count this id is in; false when its record is gone.
local owner = f[1] and (f[9] or '')
if f[1] ~= 'QUEUED' then
  unqueue(id, priority, owner)
  return { 'dropped', (head()) or '' }
end
local attempts = tonumber(f[2] or '0')
local input = redis.call('GET', image_in)
local deadline = tonumber(redis.call('ZSCORE', q.deadlines, id) or '')
local code, message
if not input then
  code, message = 'INPUT_EXPIRED', 'the input image is gone from the store (expired or evicted) before a worker took the job; submit it again'
elseif deadline and deadline <= now then
  code, message = 'DEADLINE_EXCEEDED', 'the job was not started within its deadline_s; it did not run'
elseif attempts >= q.max_attempts then
  code, message = 'TOO_MANY_ATTEMPTS', 'the job was taken ' .. attempts ..
    ' times and never finished (its worker crashed or stopped responding each time); it will not be tried again'
end
if code then
  local missing = group_missing(record)
  if missing then return { 'need_group', missing } end
  unqueue(id, priority, owner)
  finish_failed(id, record, image_in, code, message, now)
  return { 'failed', code, (head()) or '' }
end
-- Once nothing waits (the state is gone), there is no round to move on.
if not unqueue(id, priority, owner) then enter_round(priority, score, owner) end
redis.call('LPUSH', q.processing, id)
-- Started: the deadline (which is about starting) no longer applies.
redis.call('ZREM', q.deadlines, id)
attempts = redis.call('HINCRBY', record, 'attempts', 1)
local token = redis.call('HINCRBY', record, 'token', 1) .. ':' .. ARGV[10]
local lease_deadline = now + tonumber(ARGV[8])
redis.call('HSET', record, 'status', 'RUNNING', 'started_at', now,
  'lease_owner', ARGV[7], 'lease_token', token, 'lease_deadline', lease_deadline)
redis.call('ZADD', q.leases, lease_deadline, id)
-- Ms since submit by Redis's clock is batch's queue-wait metric; the next candidate saves the
-- caller's next take its read of the lists.
return { 'taken', token, attempts, input, f[3] or '', f[4] or '', f[5] or '0', f[6] or '0', f[7] or '',
  now - tonumber(f[8] or now), (head()) or '' }
`);
