import { LuaScript } from '../lua-script.js';

export const releaseLockScript = new LuaScript(`
-- Release the reaper mutex only if the caller still holds it: after its PX ran out another
-- process may hold it, and deleting that would let two reapers run at once.
-- KEYS[1] reaper_lock   ARGV[1] owner name
-- Returns 1 when released, 0 when the caller did not hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);
