-- complete for several attempts at once, each fenced by its own token.
-- ARGV: prefix, now, then id, token, result JSON for each attempt.
-- Returns one entry per attempt, in order: its new version, or 0 when its lease was lost.
-- Reads only the fields it needs and writes each job once: this runs for every job.
local versions = {}
for i = 3, #ARGV, 3 do
  local id = ARGV[i]
  local job = leased(id, ARGV[i + 1], 'task', 'ttl_us', 'version', 'is_cancel_requested',
    'concurrency_key')
  if job then
    local version = tonumber(job.version) + 1
    finish(id, job, 'completed', 'result', ARGV[i + 2], 'version', int(version))
    announce_status(id, version, 'completed', job.is_cancel_requested)
    versions[#versions + 1] = version
  else
    versions[#versions + 1] = 0
  end
end
return versions
