-- failed or cancelled -> queued, ready at once, with a fresh attempt budget.
-- ARGV: prefix, now, job id. Returns {'ok', fields}, {'invalid', fields} or {'missing'}.
local id = ARGV[3]
local job = live(id)
if not job then
  return {'missing'}
end
if job.status ~= 'failed' and job.status ~= 'cancelled' then
  return {'invalid', redis.call('HGETALL', job_key(id))}
end
redis.call('ZREM', prefix .. 'expiring', id)
redis.call('HDEL', job_key(id), 'error', 'result', 'progress', 'started_at', 'completed_at',
  'expires_at')
redis.call('HSET', job_key(id), 'attempts', '0', 'is_cancel_requested', '0')
requeue(id, job, now)
return {'ok', changed(id)}
