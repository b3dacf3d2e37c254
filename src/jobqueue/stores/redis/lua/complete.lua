-- processing -> completed with a result (JSON that Lua never decodes).
-- ARGV: prefix, now, job id, token, result JSON. Returns {'ok', fields} or {'lost'}.
local id = ARGV[3]
local job = leased(id, ARGV[4])
if not job then
  return {'lost'}
end
finish(id, job, 'completed', 'result', ARGV[5])
return {'ok', changed(id)}
