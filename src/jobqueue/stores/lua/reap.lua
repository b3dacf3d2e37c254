-- Recover processing jobs whose lease ran out: cancelled when cancellation was requested,
-- failed when no attempt is left, else queued and ready at once.
-- ARGV: prefix, now, limit, lost-worker error, cancelled error. Returns the changed jobs' fields.
local lost_error, cancelled_error = ARGV[4], ARGV[5]
local expired = redis.call('ZRANGEBYSCORE', prefix .. 'leased', '-inf', int(now), 'LIMIT', 0, ARGV[3])
local reaped = {}
for _, id in ipairs(expired) do
  local job = load(id)
  if job.is_cancel_requested == '1' then
    finish(id, job, 'cancelled')
    redis.call('HSET', job_key(id), 'error', cancelled_error)
  elseif tonumber(job.attempts) >= tonumber(job.max_attempts) then
    finish(id, job, 'failed')
    redis.call('HSET', job_key(id), 'error', lost_error)
  else
    requeue(id, job, now)
    redis.call('HSET', job_key(id), 'error', lost_error)
  end
  reaped[#reaped + 1] = changed(id)
end
return reaped
