import { LuaScript } from '../lua-script.js';
import { NOW_MS } from './lua-lib.js';

// The callback outbox, delivered fairly (CONTRACT §13: one key's slow or dead receiver delays
// another key's deliveries by at most one delivery attempt).
//
// job_ended puts each entry ("job:<id>", "group:<id>") in callback_outbox, scored with the time
// it ended, and beside it, in callback_attempts under "to:<entry>", its API key and receiver
// (the URL's origin). A claim moves new entries into lanes: one lane per API key, or per
// receiver for jobs without a key. Lanes are served in turn (the one claimed from longest ago
// first), each with at most CALLBACK_KEY_CONCURRENCY deliveries in flight, so one lane's backlog
// or hanging receiver takes at most that many delivery slots and never another lane's turn.
// A receiver that failed rests (backs off, doubling with each failure in a row): its entries
// are moved past the rest instead of each spending an attempt on it.
//
// The attempt number fences the outcome: only the claim that is current may settle the entry.
// A claim whose process died is found by its lease and its entry waits in its lane again. Both
// scripts run while Redis is over maxmemory (allow-oom): deliveries drain the outbox.

/** The keys both scripts take first, in this order (OutboxRepository's #laneKeys). */
const LANES = `
-- KEYS[1] callback_outbox: every entry not yet delivered or given up; scored with when it joins
--   its lane, +inf once it is in one (waiting or in flight)
-- KEYS[2] callback_attempts: entry -> attempts claimed; "to:<entry>" -> "<key name>\\n<receiver>"
-- KEYS[3] callback_queue: lexicographic, "<lane>\\0<due ms, 15 digits>\\0<entry>" per waiting entry
-- KEYS[4] callback_lanes_ready: lane -> its last claim (ms): lanes with a due entry, under the cap
-- KEYS[5] callback_lanes_waiting: lane -> when its first entry is due, for lanes whose first is not
-- KEYS[6] callback_lanes_served: lane -> its last claim (ms); a lane never claimed from counts as 0
-- KEYS[7] callback_lanes_busy: lane -> deliveries in flight
-- KEYS[8] callback_inflight: entry -> the end of its claim's lease
-- KEYS[9] callback_rest: "<lane>\\0<receiver>" -> until when that lane sends nothing to it
-- KEYS[10] callback_failures: "<lane>\\0<receiver>" -> failed attempts in a row
local outbox, attempts, queue, ready, waiting, served, busy, inflight, rest, failures =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
-- Set by each script before it calls anything below.
local now, cap

-- An entry's lane (its API key's, or its receiver's when it has no key) and the name its
-- receiver rests under: per lane, so one key's failing receiver never holds back another key's
-- callbacks to the same host. An entry from before lanes has neither key nor receiver ('').
local function route_of(entry)
  local meta = redis.call('HGET', attempts, 'to:' .. entry) or ''
  local cut = string.find(meta, '\\n', 1, true)
  if not cut then return 'url ', '' end
  local owner, receiver = string.sub(meta, 1, cut - 1), string.sub(meta, cut + 1)
  local lane = 'url ' .. receiver
  if owner ~= '' then lane = 'key ' .. owner end
  if receiver == '' then return lane, '' end
  return lane, lane .. '\\0' .. receiver
end

local function member(lane, due, entry)
  return lane .. '\\0' .. string.format('%015d', due) .. '\\0' .. entry
end

-- The lane's waiting entry due first: its member, due time and entry; nil when none waits.
local function first_of(lane)
  local m = redis.call('ZRANGEBYLEX', queue, '[' .. lane .. '\\0', '(' .. lane .. '\\1', 'LIMIT', 0, 1)[1]
  if not m then return nil end
  return m, tonumber(string.sub(m, #lane + 2, #lane + 16)), string.sub(m, #lane + 18)
end

local function busy_of(lane)
  return tonumber(redis.call('HGET', busy, lane) or '0')
end

local function add_busy(lane, n)
  if redis.call('HINCRBY', busy, lane, n) <= 0 then redis.call('HDEL', busy, lane) end
end

-- Until when a lane's receiver rests (0: it does not).
local function rest_of(receiver)
  if receiver == '' then return 0 end
  return tonumber(redis.call('ZSCORE', rest, receiver) or '0')
end

-- Puts a lane where it belongs after anything about it changed: ready (in turn by its last
-- claim), waiting for its first entry's due time, or nowhere (at the cap, or nothing waits).
-- A receiver's lane (jobs without a key) all goes to one receiver: it waits out the rest whole.
local function place(lane)
  redis.call('ZREM', ready, lane)
  redis.call('ZREM', waiting, lane)
  local first, due = first_of(lane)
  if not first or busy_of(lane) >= cap then return end
  if string.sub(lane, 1, 4) == 'url ' then due = math.max(due, rest_of(lane .. '\\0' .. string.sub(lane, 5))) end
  if due <= now then
    redis.call('ZADD', ready, redis.call('ZSCORE', served, lane) or '0', lane)
  else
    redis.call('ZADD', waiting, due, lane)
  end
end

-- The entry waits in its lane until due.
local function enqueue(entry, due)
  local lane = route_of(entry)
  redis.call('ZADD', queue, 0, member(lane, due, entry))
  place(lane)
end
`;

/** Most entries, lanes and rests one call goes through in each of its steps: every call stays short. */
const STEP = 100;
/** A lane not claimed from for this long, with nothing waiting or in flight, is forgotten (a new lane counts as never claimed). */
const LANE_MEMORY_MS = 3_600_000;

export const claimCallbackScript = new LuaScript(
  `
-- Claim the next callback delivery: the first due entry of the ready lane claimed from longest ago.
-- KEYS[1..10] as above
-- ARGV[1] lease ms   ARGV[2] most deliveries in flight per lane (CALLBACK_KEY_CONCURRENCY)
-- Returns { entry, attempt }; {} when nothing is due; { '' } when there may be more to do than
-- one call does (many new entries, or entries moved past resting receivers): ask again at once.
${NOW_MS}
${LANES}
now, cap = now_ms(), tonumber(ARGV[2])
local lease = tonumber(ARGV[1])
-- Claims whose process stopped: their entries wait in their lane again, due now (at least once).
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, ${STEP})
for _, entry in ipairs(expired) do
  redis.call('ZREM', inflight, entry)
  add_busy(route_of(entry), -1)
  enqueue(entry, now)
end
-- New entries join their lanes.
local new = redis.call('ZRANGEBYSCORE', outbox, '-inf', now, 'WITHSCORES', 'LIMIT', 0, ${STEP})
for i = 1, #new, 2 do
  redis.call('ZADD', outbox, '+inf', new[i])
  enqueue(new[i], tonumber(new[i + 1]))
end
-- Lanes whose first entry has come due.
local woken = redis.call('ZRANGEBYSCORE', waiting, '-inf', now, 'LIMIT', 0, ${STEP})
for _, lane in ipairs(woken) do place(lane) end
for _, lane in ipairs(redis.call('ZRANGEBYSCORE', served, '-inf', now - ${LANE_MEMORY_MS}, 'LIMIT', 0, 10)) do
  if busy_of(lane) == 0 and not first_of(lane) then redis.call('ZREM', served, lane) end
end
for _ = 1, ${STEP} do
  local lane = redis.call('ZRANGE', ready, 0, 0)[1]
  if not lane then break end
  local m, _, entry = first_of(lane)
  if m then
    redis.call('ZREM', queue, m)
    local _, receiver = route_of(entry)
    local until_ms = rest_of(receiver)
    if until_ms <= now then
      redis.call('ZADD', inflight, now + lease, entry)
      add_busy(lane, 1)
      redis.call('ZADD', served, now, lane)
      place(lane)
      return { entry, redis.call('HINCRBY', attempts, entry, 1) }
    end
    -- Its receiver rests: the entry waits for the rest to end, with no attempt spent.
    redis.call('ZADD', queue, 0, member(lane, until_ms, entry))
  end
  place(lane)
end
if #expired == ${STEP} or #new == ${STEP * 2} or #woken == ${STEP} or redis.call('ZCARD', ready) > 0 then return { '' } end
return {}
`,
  { allowOom: true },
);

export const settleCallbackScript = new LuaScript(
  `
-- The outcome of a claimed delivery: delivered (the entry leaves the outbox), failed and tried
-- again after a delay, or given up after the last attempt (kept, capped, in the dead list).
-- A failure of the receiver (no answer, an error, a non-2xx answer) makes it rest, twice as
-- long with each failure in a row; a delivery ends its rest.
-- KEYS[1..10] as above   KEYS[11] job_counts   KEYS[12] callback_dead_letter
-- ARGV[1] entry   ARGV[2] attempt   ARGV[3] 'delivered' or 'failed'   ARGV[4] max attempts
-- ARGV[5] retry delay ms   ARGV[6] error text   ARGV[7] dead-letter max
-- ARGV[8] most deliveries in flight per lane   ARGV[9] '1' when the receiver failed, '0' when
--   the attempt failed before reaching it (e.g. the job was gone)
-- ARGV[10] a receiver's first rest ms   ARGV[11] its longest rest ms
-- Returns 'delivered', 'retry', 'gave_up', or 0 when the claim is no longer current.
${NOW_MS}
${LANES}
local entry, attempt = ARGV[1], tonumber(ARGV[2])
if tonumber(redis.call('HGET', attempts, entry) or '-1') ~= attempt or not redis.call('ZSCORE', inflight, entry) then
  return 0
end
now, cap = now_ms(), tonumber(ARGV[8])
local longest = tonumber(ARGV[11])
redis.call('ZREM', inflight, entry)
local lane, receiver = route_of(entry)
add_busy(lane, -1)
if receiver ~= '' and ARGV[3] == 'delivered' then
  redis.call('ZREM', rest, receiver)
  redis.call('HDEL', failures, receiver)
elseif receiver ~= '' and ARGV[9] == '1' then
  local n = redis.call('HINCRBY', failures, receiver, 1)
  local until_ms = now + math.min(tonumber(ARGV[10]) * 2 ^ math.min(n - 1, 40), longest)
  if until_ms > tonumber(redis.call('ZSCORE', rest, receiver) or '0') then redis.call('ZADD', rest, until_ms, receiver) end
end
-- A receiver whose rest ended longer ago than the longest rest starts afresh.
for _, old in ipairs(redis.call('ZRANGEBYSCORE', rest, '-inf', now - longest, 'LIMIT', 0, 10)) do
  redis.call('ZREM', rest, old)
  redis.call('HDEL', failures, old)
end
local outcome = 'retry'
if ARGV[3] == 'delivered' then
  outcome = 'delivered'
  redis.call('HINCRBY', KEYS[11], 'callbacks_delivered', 1)
elseif attempt >= tonumber(ARGV[4]) then
  outcome = 'gave_up'
  redis.call('HINCRBY', KEYS[11], 'callbacks_failed', 1)
  redis.call('LPUSH', KEYS[12], cjson.encode({ entry = entry, attempts = attempt, error = ARGV[6], failed_at = now }))
  redis.call('LTRIM', KEYS[12], 0, tonumber(ARGV[7]) - 1)
end
if outcome == 'retry' then
  enqueue(entry, now + tonumber(ARGV[5]))
else
  redis.call('ZREM', outbox, entry)
  redis.call('HDEL', attempts, entry, 'to:' .. entry)
  place(lane)
end
return outcome
`,
  { allowOom: true },
);
