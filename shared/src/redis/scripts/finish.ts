import { LuaScript } from '../lua-script.js';

export const completeScript = new LuaScript(`
-- Store a job's output, mark it SUCCEEDED and take it off the processing list, in one step.
-- Every key of the job gets a fresh TTL, so a result stays readable for the full TTL.
-- KEYS[1] job_id_processing   KEYS[2] <id>_job   KEYS[3] <id>_image_out   KEYS[4] <id>_image_in
-- KEYS[5] job_counts
-- ARGV[1] job id   ARGV[2] output base64   ARGV[3] ttl seconds   ARGV[4] now (ms)
-- Returns 1, or 0 when the job is no longer RUNNING (expired or already finished): nothing written.
if redis.call('HGET', KEYS[2], 'status') ~= 'RUNNING' then
  redis.call('LREM', KEYS[1], -1, ARGV[1])
  return 0
end
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
redis.call('HSET', KEYS[2], 'status', 'SUCCEEDED', 'finished_at', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('LREM', KEYS[1], -1, ARGV[1])
redis.call('HINCRBY', KEYS[5], 'succeeded', 1)
return 1
`);

export const failScript = new LuaScript(`
-- Mark a job FAILED with a reason and take it off the processing list, in one step.
-- KEYS[1] job_id_processing   KEYS[2] <id>_job   KEYS[3] <id>_image_in   KEYS[4] job_counts
-- ARGV[1] job id   ARGV[2] error code   ARGV[3] error message   ARGV[4] ttl seconds   ARGV[5] now (ms)
-- Returns 1, or 0 when the job is no longer RUNNING: nothing written.
if redis.call('HGET', KEYS[2], 'status') ~= 'RUNNING' then
  redis.call('LREM', KEYS[1], -1, ARGV[1])
  return 0
end
redis.call('HSET', KEYS[2], 'status', 'FAILED', 'finished_at', ARGV[5],
  'error_code', ARGV[2], 'error_message', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('LREM', KEYS[1], -1, ARGV[1])
redis.call('HINCRBY', KEYS[4], 'failed', 1)
return 1
`);
