-- Insert a queued job, or replay or refuse the live job created under the same idempotency key.
-- ARGV: prefix, now, job id, idempotency key and fingerprint (each optional), then the job's
-- field/value pairs as one JSON array of strings (one argument packs and sends faster than
-- thirty), its task, and the queue cap: the most queued jobs of the task and of every task
-- (each optional). Returns {'created'}, {'replayed', fields}, {'conflict'} or {'full'}.
local id = ARGV[3]
local key, fingerprint = optional(ARGV[4]), optional(ARGV[5])
local task, of_task, in_all = ARGV[7], tonumber(optional(ARGV[8])), tonumber(optional(ARGV[9]))

if key then
  local known = redis.call('GET', prefix .. 'idem:' .. key)
  local existing = known and live(known)
  if existing then
    if existing.fingerprint ~= fingerprint then
      return {'conflict'}
    end
    return {'replayed', redis.call('HGETALL', job_key(known))}
  end
end

if of_task or in_all then
  local counts = redis.call('HGETALL', prefix .. 'counts')
  local queued_of_task, queued_in_all = 0, 0
  for i = 1, #counts, 2 do
    if counts[i]:sub(1, 7) == 'queued:' then
      local n = tonumber(counts[i + 1])
      queued_in_all = queued_in_all + n
      if counts[i] == 'queued:' .. task then
        queued_of_task = n
      end
    end
  end
  if (of_task and queued_of_task >= of_task) or (in_all and queued_in_all >= in_all) then
    return {'full'}
  end
end

redis.call('HSET', job_key(id), unpack(cjson.decode(ARGV[6])))
if fingerprint then
  redis.call('HSET', job_key(id), 'fingerprint', fingerprint)
end
-- The creation order, which `reap` keeps among the jobs it recovers together.
redis.call('HSET', job_key(id), 'serial', redis.call('INCR', prefix .. 'seq'))
local job = load(id)
count(job.task, 'queued', 1)
redis.call('ZADD', prefix .. 'jobs', 0, index_member(id, job))
enqueue(id, job, tonumber(job.run_at))
if key then
  redis.call('SET', prefix .. 'idem:' .. key, id)
end
publish(id, job.version)
return {'created'}
