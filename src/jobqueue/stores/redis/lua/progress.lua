-- Store the latest progress of a leased job.
-- ARGV: prefix, now, job id, token, progress JSON. Returns {'ok', fields} or {'lost'}.
local id = ARGV[3]
if not leased(id, ARGV[4]) then
  return {'lost'}
end
redis.call('HSET', job_key(id), 'progress', ARGV[5])
return {'ok', changed(id)}
