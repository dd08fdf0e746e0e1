/**
 * Fair share (CONTRACT §13): Lua pasted into the prelude after `q`, so every step that queues or
 * unqueues an id keeps a priority's list and its fair order in step, in the same atomic step.
 *
 * Each priority's contract list (`job_id`, `job_id_high`, `job_id_low`) holds every queued id,
 * newest on the left, as before. Beside it, its fair order: a zset of the same ids, scored
 * slot × OWNER_RANKS + the owner's rank. A take gives out the lowest score of the highest
 * priority with work. In job_order_slots (owner '' is the open API):
 *   round:<p>            the slot of the last id taken from priority p: the current round;
 *   next:<p>:<owner>     the slot after the owner's newest id in p;
 *   queued:<p>:<owner>   how many of the owner's ids are in p's fair order (absent: none);
 *   took:<p>:<owner>     the slot of the owner's last id taken from p;
 *   rank:<owner>         the owner's place in every round, given when it is first seen (counter
 *                        `ranks`), so each round serves its owners in the same order.
 * A new id of an owner with ids queued goes after them (its next slot); one of an owner with
 * none goes in the current round, or in the next one when the owner already had its turn in
 * this one (so nobody gets two turns in a round by sending one job at a time). So the owners
 * with work waiting are served in turn, one job each per round, always in the same order, and
 * another owner's backlog puts at most one of its jobs before a new one. With one owner the
 * slots follow arrival: FIFO. A retry or requeue gets a score below every other, as it goes to
 * the list's oldest end. Once nothing waits at any priority the hash is deleted: nothing stays
 * behind in an idle queue, and scores stay exact in a double (under 2^37 rounds in one busy
 * stretch). While jobs wait it holds a handful of fields per API key.
 */
/** Owners' ranks per slot: a score is slot × this + rank, exact while slot < 2^37. */
export const OWNER_RANKS = 65_536;

export const FAIR_ORDER = `
local PRIORITIES = { 'high', 'normal', 'low' }
local queues = { high = { list = KEYS[1], order = KEYS[16] }, normal = { list = KEYS[2], order = KEYS[17] },
  low = { list = KEYS[3], order = KEYS[18] } }

local function priority_of(priority)
  if priority == 'high' or priority == 'low' then return priority end
  return 'normal'
end

local function current_round(p)
  return tonumber(redis.call('HGET', q.slots, 'round:' .. p) or '0')
end

local function count_queued(p, owner, by)
  local field = 'queued:' .. p .. ':' .. owner
  if redis.call('HINCRBY', q.slots, field, by) <= 0 then redis.call('HDEL', q.slots, field) end
end

local function slot_of(score)
  return math.floor(score / ${OWNER_RANKS})
end

-- The owner's rank, given the first time it is seen.
local function rank_of(owner, known)
  if known then return tonumber(known) end
  local rank = redis.call('HINCRBY', q.slots, 'ranks', 1) % ${OWNER_RANKS}
  redis.call('HSET', q.slots, 'rank:' .. owner, rank)
  return rank
end

-- A new id: the newest end of its list, and its owner's next slot in the fair order.
local function queue_new(id, priority, owner)
  local p = priority_of(priority)
  local qu, queued_field = queues[p], 'queued:' .. p .. ':' .. owner
  redis.call('LPUSH', qu.list, id)
  local f = redis.call('HMGET', q.slots, 'round:' .. p, 'next:' .. p .. ':' .. owner, queued_field,
    'took:' .. p .. ':' .. owner, 'rank:' .. owner)
  local round = tonumber(f[1] or '0')
  local last = f[3] and redis.call('ZRANGE', qu.order, -1, -1, 'WITHSCORES') or {}
  local slot
  if last[2] then
    -- After the owner's queued ids, but never past everything queued (its newest were cancelled).
    slot = math.max(round, math.min(tonumber(f[2] or '0'), slot_of(tonumber(last[2])) + 1))
  else
    -- None queued (certainly so when the order is empty, whatever a count left by a lost record
    -- says): this round, or the next one when its last job was taken in this one.
    slot = math.max(round, math.min(tonumber(f[4] or '-1') + 1, round + 1))
  end
  redis.call('ZADD', qu.order, slot * ${OWNER_RANKS} + rank_of(owner, f[5]), id)
  local queued = last[2] and tonumber(f[3]) or 0
  redis.call('HSET', q.slots, 'next:' .. p .. ':' .. owner, slot + 1, queued_field, queued + 1)
end

-- An id older than what waits (a retry, a requeue): the oldest end of its list, and a score
-- below every other, so it is the next one taken, as the list's order says.
local function queue_oldest(id, priority, owner)
  local p = priority_of(priority)
  local qu = queues[p]
  redis.call('RPUSH', qu.list, id)
  local score = current_round(p) * ${OWNER_RANKS}
  local first = redis.call('ZRANGE', qu.order, 0, 0, 'WITHSCORES')
  if first[2] then score = math.min(score, tonumber(first[2]) - 1) end
  if redis.call('ZADD', qu.order, score, id) == 1 then count_queued(p, owner, 1) end
end

-- Off the list: the oldest id (with one owner, always the one taken) is an RPOP; another is
-- looked for from both ends at once, each look four times as far as the last, so removing it
-- costs about its distance from the nearer end.
local function list_remove(list, id)
  if redis.call('LINDEX', list, -1) == id then
    redis.call('RPOP', list)
    return
  end
  local length, reach = redis.call('LLEN', list), 16
  while true do
    if redis.call('LPOS', list, id, 'MAXLEN', reach) then
      redis.call('LREM', list, 1, id)
      return
    elseif redis.call('LPOS', list, id, 'RANK', -1, 'MAXLEN', reach) then
      redis.call('LREM', list, -1, id)
      return
    elseif reach >= length then
      return
    end
    reach = reach * 4
  end
end

-- Takes an id off its list and its fair order; owner false: its record is gone (not counted
-- down; the count is dropped once the order is empty). True when nothing waits any more at any
-- priority: then the state is deleted, and the next busy stretch starts from round 0.
local function unqueue(id, priority, owner)
  local p = priority_of(priority)
  local qu = queues[p]
  local idle = false
  if redis.call('ZREM', qu.order, id) == 1 then
    if owner then count_queued(p, owner, -1) end
    if redis.call('EXISTS', queues.high.order, queues.normal.order, queues.low.order) == 0 then
      redis.call('DEL', q.slots)
      idle = true
    end
  end
  list_remove(qu.list, id)
  return idle
end

-- The id a take gives out next, its priority and its score (nil when it has none), or false.
-- In the highest priority with work: its list's oldest id when that has no slot (queued by a
-- version without the fair order: those go first, oldest first), else the fair order's first.
local function head()
  for _, p in ipairs(PRIORITIES) do
    local qu = queues[p]
    local oldest = redis.call('LINDEX', qu.list, -1)
    if oldest then
      local first = redis.call('ZRANGE', qu.order, 0, 0, 'WITHSCORES')
      if first[1] ~= oldest and not redis.call('ZSCORE', qu.order, oldest) then return oldest, p, nil end
      return first[1], p, tonumber(first[2])
    end
  end
  return false, nil, nil
end

-- A take of the owner's id with this score (nil: it had none): the owner's turn in its slot is
-- noted, and the round moves on to that slot (never back, for a retry's).
local function enter_round(p, score, owner)
  if not score or not owner then return end
  local slot = slot_of(score)
  redis.call('HSET', q.slots, 'took:' .. p .. ':' .. owner, slot, 'round:' .. p, math.max(slot, current_round(p)))
end
`;
