import { LuaScript } from '../lua-script.js';

export const claimScript = new LuaScript(`
-- Mark a job a worker has just moved into the processing list as RUNNING and hand it its input.
-- KEYS[1] job_id_processing   KEYS[2] <id>_job   KEYS[3] <id>_image_in   KEYS[4] job_counts
-- ARGV[1] job id   ARGV[2] now (ms)
-- Returns the input base64; false when the job is gone (expired) or its input is, in which
-- case the id has been dropped from the processing list and the record, if any, is FAILED.
local function drop()
  redis.call('LREM', KEYS[1], -1, ARGV[1])
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  drop()
  return false
end
local image = redis.call('GET', KEYS[3])
if not image then
  redis.call('HSET', KEYS[2], 'status', 'FAILED', 'finished_at', ARGV[2],
    'error_code', 'INPUT_EXPIRED', 'error_message', 'the input image expired before a worker took the job; submit it again')
  redis.call('HINCRBY', KEYS[4], 'failed', 1)
  drop()
  return false
end
redis.call('HSET', KEYS[2], 'status', 'RUNNING', 'started_at', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'attempts', 1)
return image
`);
