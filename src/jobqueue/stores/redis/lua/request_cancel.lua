-- Cancel a queued job at once, or flag a processing one for its worker to stop.
-- ARGV: prefix, now, job id, error. Returns {'ok', fields}, {'same', fields} for a job already
-- flagged, {'invalid', fields} for a terminal job, or {'missing'}.
local id = ARGV[3]
local job = live(id)
if not job then
  return {'missing'}
end
if job.status == 'queued' then
  finish(id, job, 'cancelled', 'error', ARGV[4])
  return {'ok', changed(id)}
end
if job.status ~= 'processing' then
  return {'invalid', redis.call('HGETALL', job_key(id))}
end
if job.is_cancel_requested == '1' then
  return {'same', redis.call('HGETALL', job_key(id))}
end
redis.call('HSET', job_key(id), 'is_cancel_requested', '1')
return {'ok', changed(id)}
