import { LuaScript } from '../lua-script.js';
import { NOW_MS } from './lua-lib.js';

export const enqueueScript = new LuaScript(`
-- Queue a new job: store its input and record, push its id, count it. One step, so no id
-- is ever queued without its image, and the depth check cannot race another upload.
-- An API key's unfinished jobs are counted here too, so its limit holds under any concurrency.
-- KEYS[1] <id>_image_in   KEYS[2] <id>_job   KEYS[3] job_id (queue)   KEYS[4] job_counts
-- KEYS[5] job_owner_active
-- ARGV[1] job id   ARGV[2] input base64   ARGV[3] ttl seconds   ARGV[4] format   ARGV[5] width
-- ARGV[6] height   ARGV[7] input bytes   ARGV[8] max queue depth   ARGV[9] options JSON ('' = defaults)
-- ARGV[10] owner (API key name, '' when the API is open)   ARGV[11] owner's most unfinished jobs (0 = no limit)
-- Returns the queue length after the push; -1 when the queue already holds max depth jobs,
-- -2 when the owner already has its most unfinished jobs (nothing written either way).
${NOW_MS}
if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[8]) then
  return -1
end
local owner = ARGV[10]
if owner ~= '' and tonumber(ARGV[11]) > 0 and tonumber(redis.call('HGET', KEYS[5], owner) or '0') >= tonumber(ARGV[11]) then
  return -2
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'QUEUED', 'created_at', now_ms(), 'attempts', 0,
  'format', ARGV[4], 'width', ARGV[5], 'height', ARGV[6], 'bytes', ARGV[7])
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'options', ARGV[9]) end
if owner ~= '' then
  redis.call('HSET', KEYS[2], 'owner', owner)
  redis.call('HINCRBY', KEYS[5], owner, 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'submitted', 1)
return redis.call('LPUSH', KEYS[3], ARGV[1])
`);
