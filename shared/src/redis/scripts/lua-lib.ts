import { JOB_KEY_SUFFIXES } from '../keys.js';

/**
 * Lua pieces several scripts share. Each script pastes the ones it needs above its body, so
 * every script still runs as one self-contained atomic step.
 */

/** Milliseconds from the Redis clock: leases and retries never depend on a worker's clock. */
export const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Key names for an id learnt inside the script (prefix in ARGV), from the same suffixes as keys.ts. */
export const JOB_KEYS = `
local function job_keys(prefix, id)
  return prefix .. id .. '${JOB_KEY_SUFFIXES.record}', prefix .. id .. '${JOB_KEY_SUFFIXES.imageIn}'
end
`;

/**
 * The fencing check. 'owner' while the caller's claim is the current one. When the caller
 * already ended this claim itself (its reply was lost and it is writing again), the outcome
 * it recorded ('succeeded', 'failed', 'retry', 'released'), so a repeated write is answered as
 * done and never applied twice. Otherwise false. Only a worker's own endings record an
 * outcome, never the reaper's, so a worker that lost its lease is refused.
 */
export const LEASE_STATE = `
local function lease_state(record, token)
  local f = redis.call('HMGET', record, 'status', 'lease_token', 'settled')
  if f[1] == 'RUNNING' and f[2] == token then return 'owner' end
  local mine = token .. ':'
  if f[3] and string.sub(f[3], 1, #mine) == mine then return string.sub(f[3], #mine + 1) end
  return false
end
`;

/**
 * A job that ends no longer counts against its API key's limit of unfinished jobs (the
 * per-owner counter enqueue raised). q.owners: the job_owner_active hash.
 */
export const RELEASE_OWNER = `
local function release_owner(owners, record)
  local owner = redis.call('HGET', record, 'owner')
  if owner and owner ~= '' then
    if redis.call('HINCRBY', owners, owner, -1) <= 0 then redis.call('HDEL', owners, owner) end
  end
end
`;

/** Ends a claim: no lease fields, off the processing list and the lease zset. */
export const END_CLAIM = `
local function end_claim(q, id, record)
  redis.call('HDEL', record, 'lease_owner', 'lease_token', 'lease_deadline')
  redis.call('LREM', q.processing, -1, id)
  redis.call('ZREM', q.leases, id)
end
`;

/**
 * FAILED with a reason, counted, and dead-lettered (newest first, capped). The job's keys get
 * a fresh TTL so the reason stays readable for the full TTL, and the id is published on the
 * job-done channel so long polls answer at once. Needs END_CLAIM (it carries RELEASE_OWNER).
 * q: processing, leases, counts, dead_letter, dead_max, ttl, done (channel), owners.
 */
export const FINISH_FAILED = `${RELEASE_OWNER}
local function finish_failed(q, id, record, image_in, code, message, now)
  end_claim(q, id, record)
  release_owner(q.owners, record)
  redis.call('HSET', record, 'status', 'FAILED', 'finished_at', now, 'error_code', code, 'error_message', message)
  redis.call('HDEL', record, 'retry_at')
  redis.call('EXPIRE', record, q.ttl)
  redis.call('EXPIRE', image_in, q.ttl)
  redis.call('HINCRBY', q.counts, 'failed', 1)
  local attempts = tonumber(redis.call('HGET', record, 'attempts') or '0')
  redis.call('LPUSH', q.dead_letter,
    cjson.encode({ job_id = id, code = code, message = message, attempts = attempts, failed_at = now }))
  redis.call('LTRIM', q.dead_letter, 0, q.dead_max - 1)
  redis.call('PUBLISH', q.done, id)
end
`;
