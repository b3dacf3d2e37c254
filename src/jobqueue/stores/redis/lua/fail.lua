-- End the attempt with an error: back to queued to run at retry_at, or failed for good.
-- ARGV: prefix, now, job id, token, error, retry_at (optional). Returns {'ok', fields} or {'lost'}.
local id = ARGV[3]
local job = leased(id, ARGV[4])
if not job then
  return {'lost'}
end
local retry_at = optional(ARGV[6])
if retry_at then
  requeue(id, job, tonumber(retry_at))
  redis.call('HSET', job_key(id), 'error', ARGV[5])
else
  finish(id, job, 'failed', 'error', ARGV[5])
end
return {'ok', changed(id)}
