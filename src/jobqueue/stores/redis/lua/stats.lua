-- The per task and status counts, the jobs they still count although past expires_at (the
-- purger deletes those soon, so there are few), and the workers, in one consistent read.
-- ARGV: prefix, now. Returns {count field/value pairs, 'status:task' of each expired job,
-- worker id/info pairs, running-key field/count pairs, worker id/jobs held pairs}.
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', prefix .. 'expiring', '-inf', int(now))) do
  local status, task = unpack(redis.call('HMGET', job_key(id), 'status', 'task'))
  expired[#expired + 1] = status .. ':' .. task
end
local held = {}
for _, id in ipairs(redis.call('ZRANGE', prefix .. 'leased', 0, -1)) do
  local worker = redis.call('HGET', job_key(id), 'worker_id')
  if worker then
    held[worker] = (held[worker] or 0) + 1
  end
end
local held_pairs = {}
for worker, n in pairs(held) do
  held_pairs[#held_pairs + 1] = worker
  held_pairs[#held_pairs + 1] = n
end
return {
  redis.call('HGETALL', prefix .. 'counts'),
  expired,
  redis.call('HGETALL', prefix .. 'workers'),
  redis.call('HGETALL', prefix .. 'running_keys'),
  held_pairs,
}
