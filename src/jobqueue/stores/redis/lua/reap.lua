-- Recover processing jobs whose lease ran out: cancelled when cancellation was requested,
-- failed when no attempt is left, else queued and ready at once.
-- ARGV: prefix, now, limit, lost-worker error, cancelled error. Returns the changed jobs' fields.
local lost_error, cancelled_error = ARGV[4], ARGV[5]
local expired = {}
local lapsed = redis.call('ZRANGEBYSCORE', prefix .. 'leased', '-inf', int(now),
  'LIMIT', 0, ARGV[3])
for _, id in ipairs(lapsed) do
  local job = load(id)
  job.id = id
  expired[#expired + 1] = job
end
-- Requeue in creation order: among jobs equal in priority, run_at and created_at, those
-- queued first are claimed first, so this keeps them in the order they were submitted.
table.sort(expired, function(a, b) return tonumber(a.serial) < tonumber(b.serial) end)

local reaped = {}
for _, job in ipairs(expired) do
  local id = job.id
  if job.is_cancel_requested == '1' then
    finish(id, job, 'cancelled', 'error', cancelled_error)
  elseif tonumber(job.attempts) >= tonumber(job.max_attempts) then
    finish(id, job, 'failed', 'error', lost_error)
  else
    requeue(id, job, now)
    redis.call('HSET', job_key(id), 'error', lost_error)
  end
  reaped[#reaped + 1] = changed(id)
end
return reaped
