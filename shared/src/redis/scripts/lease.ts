import { LuaScript } from '../lua-script.js';
import { LEASE_STATE, NOW_MS, PRELUDE } from './lua-lib.js';

export const renewScript = new LuaScript(
  `
-- Heartbeat: extend the caller's lease on a job it is running. Runs while Redis is over
-- maxmemory (allow-oom: it only rewrites a field and a score), so leases hold through it.
-- KEYS[1] <id>_job   KEYS[2] job_leases
-- ARGV[1] job id   ARGV[2] fencing token   ARGV[3] lease ms   ARGV[4] worker id ('' = not checked)
-- Returns 1 when extended, 0 when the claim is no longer the caller's (nothing written).
${NOW_MS}${LEASE_STATE}
if lease_state(KEYS[1], ARGV[2], ARGV[4]) ~= 'owner' then return 0 end
local deadline = now_ms() + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_deadline', deadline)
redis.call('ZADD', KEYS[2], deadline, ARGV[1])
return 1
`,
  { allowOom: true },
);

export const releaseScript = new LuaScript(
  `
-- Hand a job back at shutdown: QUEUED again at the oldest end of its queue (it is older than
-- anything waiting), and the attempt is given back: stopping a worker is not the job's fault.
-- Runs while Redis is over maxmemory (allow-oom: it moves an id, it adds nothing).
-- KEYS[20] <id>_job
-- ARGV[7] job id   ARGV[8] fencing token   ARGV[9] worker id ('' = not checked)
-- Returns 1 when handed back (now or by an earlier call for this claim), 0 when the claim is
-- no longer the caller's (nothing written).
${PRELUDE}${LEASE_STATE}
local id, record = ARGV[7], KEYS[20]
local state = lease_state(record, ARGV[8], ARGV[9])
if state == 'released' then return 1 end
if state ~= 'owner' then return 0 end
end_claim(id, record)
redis.call('HSET', record, 'status', 'QUEUED', 'settled', ARGV[8] .. ':released')
redis.call('HINCRBY', record, 'attempts', -1)
make_runnable(id, record)
return 1
`,
  { allowOom: true },
);
