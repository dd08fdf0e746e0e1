import { LuaScript } from '../lua-script.js';

// The reaper mutex. Both steps run while Redis is over maxmemory (allow-oom): a plain SET is
// refused then, and the reaper is what recovers crashed workers' jobs when Redis is full.

export const acquireLockScript = new LuaScript(
  `
-- Take the reaper mutex unless another process holds it (SET NX PX).
-- KEYS[1] reaper_lock   ARGV[1] owner name   ARGV[2] ttl ms
-- Returns 1 when taken, 0 when another process holds it.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`,
  { allowOom: true },
);

export const releaseLockScript = new LuaScript(
  `
-- Release the reaper mutex only if the caller still holds it: after its PX ran out another
-- process may hold it, and deleting that would let two reapers run at once.
-- KEYS[1] reaper_lock   ARGV[1] owner name
-- Returns 1 when released, 0 when the caller did not hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
  { allowOom: true },
);
