-- One bounded step of a listing: walk the index newest first from a position, keeping live
-- jobs that match the filter, until enough are found or the scan budget is spent.
-- ARGV: prefix, now, start (an exclusive ZREVRANGEBYLEX bound), jobs wanted, scan budget,
-- status count and statuses, task count and tasks, owner and tag (each optional).
-- Returns {matching jobs' fields, member to continue after ('' when the index is exhausted)}.
local start, wanted, budget = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local statuses, tasks = {}, {}
local at = 6
for _, set in ipairs({statuses, tasks}) do
  local n = tonumber(ARGV[at])
  for i = at + 1, at + n do
    set[ARGV[i]] = true
  end
  at = at + n + 1
end
local any_status, any_task = next(statuses) == nil, next(tasks) == nil
local owner = optional(ARGV[at])
-- A tag is letters, digits and ._:- only, so its quoted form can only match a whole tag
-- of the stored JSON array.
local tag = optional(ARGV[at + 1])
local quoted_tag = tag and ('"' .. tag .. '"')

local found = {}
while budget > 0 do
  local size = math.min(budget, 100)
  local batch = redis.call('ZREVRANGEBYLEX', prefix .. 'jobs', start, '-', 'LIMIT', 0, size)
  for _, member in ipairs(batch) do
    local id = member:sub(20)
    local status, task, job_owner, expires_at, tags =
      unpack(redis.call('HMGET', job_key(id), 'status', 'task', 'owner', 'expires_at', 'tags'))
    if (any_status or statuses[status]) and (any_task or tasks[task])
        and (owner == nil or job_owner == owner)
        and (tag == nil or (tags and string.find(tags, quoted_tag, 1, true)))
        and (not expires_at or tonumber(expires_at) > now) then
      found[#found + 1] = redis.call('HGETALL', job_key(id))
      if #found == wanted then
        return {found, member}
      end
    end
  end
  if #batch < size then
    return {found, ''}
  end
  budget = budget - size
  start = '(' .. batch[#batch]
end
return {found, start:sub(2)}
