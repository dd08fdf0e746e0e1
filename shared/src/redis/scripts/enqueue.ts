import { LuaScript } from '../lua-script.js';
import { PRELUDE } from './lua-lib.js';

/**
 * What enqueue and enqueue-group share: admission (queue depth, the API key's limit), the
 * idempotency key, and writing one job. Lua, pasted into both scripts.
 */
const ADMIT_AND_WRITE = `
-- nil when admitted, else the refusal: -4 too late (the caller has given up waiting, by Redis's
-- own clock: a script that runs after the caller answered 503 must not queue anything),
-- -1 queue full, -2 the owner's limit.
local function refusal(depth, count, max_depth, owner, owner_max, not_after)
  if not_after > 0 and now_ms() > not_after then return -4 end
  if depth + count > max_depth then return -1 end
  if owner ~= '' and owner_max > 0 and tonumber(redis.call('HGET', q.owners, owner) or '0') + count > owner_max then
    return -2
  end
  return nil
end

-- The idempotency key already used: the id it names when the body matches, else -3.
local function idempotent_hit(key, value)
  if value == '' then return nil end
  local seen = redis.call('GET', key)
  if not seen then return nil end
  local hash, id = string.match(seen, '^(%S+) (%S+)$')
  if hash == value then return id end
  return -3
end

local function write_job(id, record, image_in, input, fields, c, now)
  redis.call('SET', image_in, input)
  redis.call('HSET', record, 'status', 'QUEUED', 'created_at', now, 'attempts', 0, unpack(fields))
  if c.options ~= '' then redis.call('HSET', record, 'options', c.options) end
  if c.owner ~= '' then
    redis.call('HSET', record, 'owner', c.owner)
    redis.call('HINCRBY', q.owners, c.owner, 1)
  end
  if c.priority ~= 'normal' then redis.call('HSET', record, 'priority', c.priority) end
  if c.callback ~= '' then redis.call('HSET', record, 'callback_url', c.callback) end
  if c.group ~= '' then redis.call('HSET', record, 'group', c.group) end
  if c.deadline_ms > 0 then
    redis.call('HSET', record, 'deadline_at', now + c.deadline_ms)
    redis.call('ZADD', q.deadlines, now + c.deadline_ms, id)
  end
  -- Queued and running jobs never expire: a TTL counts from the job's end (job_ended). The SET
  -- above already dropped any TTL of image_in; HSET keeps a record's, so it is taken off here.
  redis.call('PERSIST', record)
  queue_new(id, c.priority, c.owner)
  redis.call('HINCRBY', q.counts, 'submitted', 1)
end
`;

export const enqueueScript = new LuaScript(`
-- Queue a new job: store its input and record, push its id on its priority's list, count it,
-- wake one worker. One step, so no id is ever queued without its image, the depth and per-key
-- checks cannot race another upload, and an idempotency key maps to exactly one job. Refused
-- whole while Redis is over maxmemory (no allow-oom).
-- KEYS[20] <id>_job   KEYS[21] <id>_image_in   KEYS[22] idempotency key
-- ARGV[7] job id   ARGV[8] input base64   ARGV[9] format   ARGV[10] width   ARGV[11] height
-- ARGV[12] input bytes   ARGV[13] max queue depth   ARGV[14] options JSON ('' = defaults)
-- ARGV[15] owner ('' = open API)   ARGV[16] owner's most unfinished jobs (0 = no limit)
-- ARGV[17] priority   ARGV[18] deadline ms from now (0 = none)   ARGV[19] callback URL ('')
-- ARGV[20] idempotency value: the body's hash ('' = no key)   ARGV[21] not after (ms, 0 = no limit)
-- Returns { 1, queued depth } when queued; { 2, id } for an idempotent repeat (nothing written);
-- { -1 } queue full, { -2 } the owner's limit, { -3 } the key was used with another body,
-- { -4 } past the caller's deadline.
${PRELUDE}${ADMIT_AND_WRITE}
local id = ARGV[7]
local hit = idempotent_hit(KEYS[22], ARGV[20])
if hit == -3 then return { -3 } end
if hit then return { 2, hit } end
local depth = queued_depth()
local refused = refusal(depth, 1, tonumber(ARGV[13]), ARGV[15], tonumber(ARGV[16]), tonumber(ARGV[21]))
if refused then return { refused } end
local c = { options = ARGV[14], owner = ARGV[15], priority = ARGV[17], deadline_ms = tonumber(ARGV[18]),
  callback = ARGV[19], group = '' }
write_job(id, KEYS[20], KEYS[21], ARGV[8], { 'format', ARGV[9], 'width', ARGV[10], 'height', ARGV[11], 'bytes', ARGV[12] }, c, now_ms())
if ARGV[20] ~= '' then redis.call('SET', KEYS[22], ARGV[20] .. ' ' .. id, 'EX', q.ttl) end
wake(1)
return { 1, depth + 1 }
`);

export const enqueueGroupScript = new LuaScript(`
-- Queue a group: one job per image and the group's record, all or none, in one step. Refused
-- whole while Redis is over maxmemory (no allow-oom).
-- KEYS[20] <gid>_group   KEYS[21] <gid>_group_jobs   KEYS[22] idempotency key
-- KEYS[23..] each image's <id>_job and <id>_image_in, in the order of the images
-- ARGV[7] group id   ARGV[8] max queue depth   ARGV[9] options JSON   ARGV[10] owner
-- ARGV[11] owner's most unfinished jobs   ARGV[12] priority   ARGV[13] deadline ms (0 = none)
-- ARGV[14] group callback URL ('')   ARGV[15] idempotency value ('')   ARGV[16] not after (ms, 0 = none)
-- ARGV[17] image count n, then n times: job id, input base64, format, width, height, bytes.
-- Returns as enqueue does; { 2, group id } for an idempotent repeat.
${PRELUDE}${ADMIT_AND_WRITE}
local gid, n = ARGV[7], tonumber(ARGV[17])
local hit = idempotent_hit(KEYS[22], ARGV[15])
if hit == -3 then return { -3 } end
if hit then return { 2, hit } end
local depth = queued_depth()
local refused = refusal(depth, n, tonumber(ARGV[8]), ARGV[10], tonumber(ARGV[11]), tonumber(ARGV[16]))
if refused then return { refused } end
local now = now_ms()
-- A group's own callback fires once at its end; its jobs carry none.
local c = { options = ARGV[9], owner = ARGV[10], priority = ARGV[12], deadline_ms = tonumber(ARGV[13]), callback = '', group = gid }
redis.call('HSET', KEYS[20], 'created_at', now, 'size', n, 'unfinished', n, 'options', ARGV[9], 'owner', ARGV[10])
if ARGV[14] ~= '' then redis.call('HSET', KEYS[20], 'callback_url', ARGV[14]) end
for i = 0, n - 1 do
  local a = 18 + i * 6
  write_job(ARGV[a], KEYS[23 + i * 2], KEYS[24 + i * 2], ARGV[a + 1], { 'format', ARGV[a + 2], 'width', ARGV[a + 3], 'height', ARGV[a + 4], 'bytes', ARGV[a + 5] }, c, now)
  redis.call('RPUSH', KEYS[21], ARGV[a])
end
if ARGV[15] ~= '' then redis.call('SET', KEYS[22], ARGV[15] .. ' ' .. gid, 'EX', q.ttl) end
wake(n)
return { 1, depth + n }
`);
