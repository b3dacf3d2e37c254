-- Hand ready jobs of some tasks to one worker: the highest priority first, then the oldest
-- run_at, then the oldest created_at (then the order they were queued in).
-- ARGV: prefix, now, lease expiry, worker id, task count n, n tasks, then one fresh fencing
-- token per job wanted. Returns the claimed jobs' fields.
local PROMOTE_LIMIT = 1000
local lease_until, worker_id, n = ARGV[3], ARGV[4], tonumber(ARGV[5])
local tasks = {unpack(ARGV, 6, 5 + n)}

-- Delayed jobs whose time has come join the ready sets, earliest first. The move is bounded
-- so one claim stays cheap; whatever is left moves on the next claim.
for _, task in ipairs(tasks) do
  local due = redis.call('ZRANGEBYSCORE', delayed_key(task), '-inf', int(now),
    'LIMIT', 0, PROMOTE_LIMIT)
  for _, member in ipairs(due) do
    local priority = redis.call('HGET', job_key(member:sub(55)), 'priority')
    redis.call('ZADD', ready_key(task), -tonumber(priority), member)
    redis.call('ZREM', delayed_key(task), member)
  end
end

-- Whether ready entry a goes before b: the lower score (the higher priority), then the lower
-- run_at, created_at and sequence number at the start of the member, compared as numbers.
local function ahead(score_a, member_a, score_b, member_b)
  if score_a ~= score_b then
    return score_a < score_b
  end
  for i = 1, 37, 18 do
    local a, b = tonumber(member_a:sub(i, i + 17)), tonumber(member_b:sub(i, i + 17))
    if a ~= b then
      return a < b
    end
  end
  return false
end

-- The best ready entry over all the tasks, and its task.
local function best_ready()
  local best_task, best_score, best_member
  for _, task in ipairs(tasks) do
    local top = redis.call('ZRANGE', ready_key(task), 0, 0, 'WITHSCORES')
    if top[1] then
      local score = tonumber(top[2])
      if best_member == nil or ahead(score, top[1], best_score, best_member) then
        best_task, best_score, best_member = task, score, top[1]
      end
    end
  end
  return best_member, best_task
end

local claims = {}
local token_at = 6 + n
while token_at <= #ARGV do
  local member, task = best_ready()
  if not member then
    break
  end
  local id = member:sub(55)
  redis.call('ZREM', ready_key(task), member)
  local run_at = redis.call('HGET', job_key(id), 'run_at')
  if tonumber(run_at) > now then
    -- Due by the clock of whoever queued it, not yet by this caller's: it waits again.
    redis.call('ZADD', delayed_key(task), run_at, member)
  else
    local job = load(id)
    set_status(id, job, 'processing')
    redis.call('HDEL', job_key(id), 'queue_member')
    redis.call('HSET', job_key(id), 'started_at', int(now), 'worker_id', worker_id,
      'lease_expires_at', lease_until, 'token', ARGV[token_at])
    redis.call('HINCRBY', job_key(id), 'attempts', 1)
    redis.call('ZADD', prefix .. 'leased', lease_until, id)
    claims[#claims + 1] = changed(id)
    token_at = token_at + 1
  end
end
return claims
