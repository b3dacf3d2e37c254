-- Delete jobs past expires_at, with their idempotency keys and index entries.
-- ARGV: prefix, now, limit. Returns how many jobs were deleted.
local expired = redis.call('ZRANGEBYSCORE', prefix .. 'expiring', '-inf', int(now),
  'LIMIT', 0, ARGV[3])
for _, id in ipairs(expired) do
  local job = load(id)
  count(job.task, job.status, -1)
  redis.call('ZREM', prefix .. 'jobs', index_member(id, job))
  if job.idempotency_key then
    local key = prefix .. 'idem:' .. job.idempotency_key
    -- Once this job expired, a new submission may have taken the key over: keep it then.
    if redis.call('GET', key) == id then
      redis.call('DEL', key)
    end
  end
  redis.call('DEL', job_key(id))
  redis.call('ZREM', prefix .. 'expiring', id)
end
return #expired
