-- Hand ready jobs of some tasks to one worker: the highest priority first, then the oldest
-- run_at, then the oldest created_at (then the order they were queued in), under each
-- task's terms (`Store.claim`, `jobqueue.stores.claiming` for the same rules in Python).
-- ARGV: prefix, now, lease expiry, worker id, the slots to fill, task count n, then for each
-- task its name, room (the most this claim may take of it), cost, global_concurrency and
-- key_concurrency (the last two optional), then one fresh fencing token per job wanted.
-- Returns the claimed jobs' fields.
-- Jobs of keys at their limit passed over in one claim, at most; the rest wait for the next.
local SKIP_LIMIT = 1000
local lease_until, worker_id = ARGV[3], ARGV[4]
local slots, n = tonumber(ARGV[5]), tonumber(ARGV[6])
local tasks, terms = {}, {}
for i = 0, n - 1 do
  local at = 7 + 5 * i
  local task = ARGV[at]
  local room = tonumber(ARGV[at + 1])
  local global = tonumber(optional(ARGV[at + 3]))
  if global then
    local running = redis.call('HGET', prefix .. 'counts', 'processing:' .. task)
    room = math.min(room, global - tonumber(running or 0))
  end
  tasks[#tasks + 1] = task
  terms[task] = {room = room, cost = tonumber(ARGV[at + 2]),
    key_limit = tonumber(optional(ARGV[at + 4]))}
end
local first_token = 7 + 5 * n

for _, task in ipairs(tasks) do
  promote_due(task)
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

-- The head of each task's ready set, read in batches of up to `wanted` entries per task
-- (what one claim can take) rather than one entry per task for every job claimed. Entries
-- passed over stay in the set, ahead of the unread ones: a new batch starts after them.
local wanted = #ARGV - first_token + 1
local heads = {}
local function head(task)
  local batch = heads[task]
  if batch == nil or (batch.at > #batch.entries and #batch.entries == 2 * wanted) then
    -- First look, or the batch ran out while more may wait (taken entries are gone).
    local skipped = batch and batch.skipped or 0
    batch = {at = 1, skipped = skipped,
      entries = redis.call('ZRANGE', ready_key(task), skipped, skipped + wanted - 1,
        'WITHSCORES')}
    heads[task] = batch
  end
  local member = batch.entries[batch.at]
  if member then
    return member, tonumber(batch.entries[batch.at + 1])
  end
end

-- The best ready entry over the tasks that still have room, and its task.
local function best()
  local best_task, best_score, best_member
  for _, task in ipairs(tasks) do
    if terms[task].room > 0 then
      local member, score = head(task)
      if member and (best_member == nil or ahead(score, member, best_score, best_member)) then
        best_task, best_score, best_member = task, score, member
      end
    end
  end
  return best_member, best_task
end

local claims = {}
local claimed_per_task = {}
local token_at, skips = first_token, 0
while token_at <= #ARGV and skips < SKIP_LIMIT do
  local member, task = best()
  if not member or terms[task].cost > slots then
    break -- nothing ready, or the best job does not fit: the claim ends
  end
  local t, batch, id = terms[task], heads[task], member:sub(55)
  batch.at = batch.at + 2
  local key = t.key_limit and redis.call('HGET', job_key(id), 'concurrency_key')
  local running = key and redis.call('HGET', prefix .. 'running_keys', running_key(task, key))
  if running and tonumber(running) >= t.key_limit then
    batch.skipped, skips = batch.skipped + 1, skips + 1 -- its key is at its limit: it waits
  else
    redis.call('ZREM', ready_key(task), member)
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
      count_running(job, 1)
      claimed_per_task[task] = (claimed_per_task[task] or 0) + 1
      t.room, slots = t.room - 1, slots - t.cost
      claims[#claims + 1] = flatten(job)
      token_at = token_at + 1
    end
  end
end
for task, claimed in pairs(claimed_per_task) do
  count(task, 'queued', -claimed)
  count(task, 'processing', claimed)
end
return claims
