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

-- The head of each task's ready set, read in one batch of up to `wanted` entries per task
-- (what one claim can take) rather than one entry per task for every job claimed.
local wanted = #ARGV - 5 - n
local heads = {}
local function head(task)
  local batch = heads[task]
  if batch == nil or (batch.at > #batch.entries and #batch.entries == 2 * wanted) then
    -- First look, or the batch ran out while more may wait (taken entries are gone).
    batch = {entries = redis.call('ZRANGE', ready_key(task), 0, wanted - 1, 'WITHSCORES'), at = 1}
    heads[task] = batch
  end
  local member = batch.entries[batch.at]
  if member then
    return member, tonumber(batch.entries[batch.at + 1])
  end
end

-- The best ready entry over all the tasks, and its task; taken off the batch it came from.
local function take_best()
  local best_task, best_score, best_member
  for _, task in ipairs(tasks) do
    local member, score = head(task)
    if member and (best_member == nil or ahead(score, member, best_score, best_member)) then
      best_task, best_score, best_member = task, score, member
    end
  end
  if best_member then
    heads[best_task].at = heads[best_task].at + 2
    redis.call('ZREM', ready_key(best_task), best_member)
  end
  return best_member, best_task
end

local claims = {}
local claimed_per_task = {}
local token_at = 6 + n
while token_at <= #ARGV do
  local member, task = take_best()
  if not member then
    break
  end
  local id = member:sub(55)
  local job = load(id)
  if tonumber(job.run_at) > now then
    -- Due by the clock of whoever queued it, not yet by this caller's: it waits again.
    redis.call('ZADD', delayed_key(task), job.run_at, member)
  else
    job.status, job.queue_member = 'processing', nil
    job.started_at, job.worker_id, job.lease_expires_at = int(now), worker_id, lease_until
    job.token = ARGV[token_at]
    job.attempts = int(tonumber(job.attempts) + 1)
    job.version = int(tonumber(job.version) + 1)
    redis.call('HDEL', job_key(id), 'queue_member')
    redis.call('HSET', job_key(id), 'status', job.status, 'started_at', job.started_at,
      'worker_id', worker_id, 'lease_expires_at', lease_until, 'token', job.token,
      'attempts', job.attempts, 'version', job.version)
    redis.call('ZADD', prefix .. 'leased', lease_until, id)
    announce_status(id, job.version, job.status, job.is_cancel_requested)
    claimed_per_task[task] = (claimed_per_task[task] or 0) + 1
    claims[#claims + 1] = flatten(job)
    token_at = token_at + 1
  end
end
for task, claimed in pairs(claimed_per_task) do
  count(task, 'queued', -claimed)
  count(task, 'processing', claimed)
end
return claims
