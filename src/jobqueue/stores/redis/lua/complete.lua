-- processing -> completed with a result (JSON that Lua never decodes).
-- ARGV: prefix, now, job id, token, result JSON. Returns {'ok', fields} or {'lost'}.
return finish_leased('completed', 'result', ARGV[5])
