-- processing -> cancelled, once the worker stopped the attempt.
-- ARGV: prefix, now, job id, token, error. Returns {'ok', fields} or {'lost'}.
local id = ARGV[3]
local job = leased(id, ARGV[4])
if not job then
  return {'lost'}
end
finish(id, job, 'cancelled', 'error', ARGV[5])
return {'ok', changed(id)}
