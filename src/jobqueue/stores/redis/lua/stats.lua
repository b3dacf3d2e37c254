-- The per task and status counts, the jobs they still count although past expires_at (the
-- purger deletes those soon, so there are few), the workers, and the worker holding each
-- running job (which makes each worker's running count current), in one consistent read.
-- ARGV: prefix, now. Returns {count field/value pairs, 'status:task' of each expired job,
-- worker id/info pairs, the worker id of each running job}.
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'expiring', '-inf', int(now))) do
  local status, task = unpack(redis.call('HMGET', job_key(id), 'status', 'task'))
  expired[#expired + 1] = status .. ':' .. task
end
local holders = {}
for _, id in ipairs(redis.call('ZRANGE', prefix .. 'leased', 0, -1)) do
  holders[#holders + 1] = redis.call('HGET', job_key(id), 'worker_id')
end
return {
  redis.call('HGETALL', prefix .. 'counts'),
  expired,
  redis.call('HGETALL', prefix .. 'workers'),
  holders,
}
