-- The earliest run_at among the queued jobs of some tasks, or false when none wait.
-- ARGV: prefix, now, tasks. A ready set is ordered by priority first, so each priority's
-- first member is read (ready sets hold few distinct priorities); the delayed set's first
-- entry is its earliest.
local earliest
local function consider(run_at)
  if earliest == nil or run_at < earliest then
    earliest = run_at
  end
end

for i = 3, #ARGV do
  local task = ARGV[i]
  local delayed = redis.call('ZRANGE', delayed_key(task), 0, 0, 'WITHSCORES')
  if delayed[1] then
    consider(tonumber(delayed[2]))
  end
  local top = redis.call('ZRANGE', ready_key(task), 0, 0, 'WITHSCORES')
  while top[1] do
    consider(tonumber(top[1]:sub(1, 18)))
    top = redis.call('ZRANGEBYSCORE', ready_key(task), '(' .. top[2], '+inf',
      'WITHSCORES', 'LIMIT', 0, 1)
  end
end
if earliest == nil then
  return false
end
return int(earliest)
