-- The per task and status counts, the jobs they still count although past expires_at (the
-- purger deletes those soon, so there are few), and the workers, in one consistent read.
-- ARGV: prefix, now. Returns {count field/value pairs, 'status:task' of each expired job,
-- worker id/info pairs, running-key field/count pairs}.
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'expiring', '-inf', int(now))) do
  local status, task = unpack(redis.call('HMGET', job_key(id), 'status', 'task'))
  expired[#expired + 1] = status .. ':' .. task
end
return {
  redis.call('HGETALL', prefix .. 'counts'),
  expired,
  redis.call('HGETALL', prefix .. 'workers'),
  redis.call('HGETALL', prefix .. 'running_keys'),
}
