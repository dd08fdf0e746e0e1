import { LuaScript } from '../lua-script.js';
import { END_CLAIM, LEASE_STATE, NOW_MS } from './lua-lib.js';

export const renewScript = new LuaScript(`
-- Heartbeat: extend the caller's lease on a job it is running.
-- KEYS[1] <id>_job   KEYS[2] job_leases
-- ARGV[1] job id   ARGV[2] fencing token   ARGV[3] lease ms
-- Returns 1 when extended, 0 when the claim is no longer the caller's (nothing written).
${NOW_MS}${LEASE_STATE}
if lease_state(KEYS[1], ARGV[2]) ~= 'owner' then return 0 end
local deadline = now_ms() + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_deadline', deadline)
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
return 1
`);

export const releaseScript = new LuaScript(`
-- Hand a job back at shutdown: QUEUED again at the front of the queue (it is older than
-- anything waiting), and the attempt is given back: stopping a worker is not the job's fault.
-- KEYS[1] job_id   KEYS[2] job_id_processing   KEYS[3] job_leases   KEYS[4] <id>_job
-- ARGV[1] job id   ARGV[2] fencing token
-- Returns 1 when handed back (now or by an earlier call for this claim), 0 when the claim is
-- no longer the caller's (nothing written).
${LEASE_STATE}${END_CLAIM}
local state = lease_state(KEYS[4], ARGV[2])
if state == 'released' then return 1 end
if state ~= 'owner' then return 0 end
end_claim({ processing = KEYS[2], leases = KEYS[3] }, ARGV[1], KEYS[4])
redis.call('HSET', KEYS[4], 'status', 'QUEUED', 'settled', ARGV[2] .. ':released')
redis.call('HINCRBY', KEYS[4], 'attempts', -1)
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1
`);
