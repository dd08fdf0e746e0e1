import { LuaScript } from '../lua-script.js';

export const enqueueScript = new LuaScript(`
-- Queue a new job: store its input and record, push its id, count it. One step, so no id
-- is ever queued without its image, and the depth check cannot race another upload.
-- KEYS[1] <id>_image_in   KEYS[2] <id>_job   KEYS[3] job_id (queue)   KEYS[4] job_counts
-- ARGV[1] job id   ARGV[2] input base64   ARGV[3] ttl seconds   ARGV[4] now (ms)
-- ARGV[5] format   ARGV[6] width   ARGV[7] height   ARGV[8] input bytes   ARGV[9] max queue depth
-- Returns the queue length after the push, or -1 when the queue already holds max depth
-- jobs (nothing written).
if redis.call('LLEN', KEYS[3]) >= tonumber(ARGV[9]) then
  return -1
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'QUEUED', 'created_at', ARGV[4], 'attempts', 0,
  'format', ARGV[5], 'width', ARGV[6], 'height', ARGV[7], 'bytes', ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'submitted', 1)
return redis.call('LPUSH', KEYS[3], ARGV[1])
`);
