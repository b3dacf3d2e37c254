-- complete for several attempts at once, each fenced by its own token.
-- ARGV: prefix, now, then id, token, result JSON for each attempt.
-- Returns one entry per attempt, in order: its new version, or 0 when its lease was lost.
local versions = {}
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local job = leased(id, ARGV[i + 1])
  if job then
    finish(id, job, 'completed')
    redis.call('HSET', job_key(id), 'result', ARGV[i + 2])
    versions[#versions + 1] = bump(id)
  else
    versions[#versions + 1] = 0
  end
end
return versions
