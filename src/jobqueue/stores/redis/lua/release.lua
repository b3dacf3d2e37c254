-- Hand a running job back to queued, ready at once, without counting the attempt.
-- ARGV: prefix, now, job id, token. Returns {'ok', fields} or {'lost'}.
local id = ARGV[3]
local job = leased(id, ARGV[4])
if not job then
  return {'lost'}
end
redis.call('HINCRBY', job_key(id), 'attempts', -1)
requeue(id, job, now)
return {'ok', changed(id)}
