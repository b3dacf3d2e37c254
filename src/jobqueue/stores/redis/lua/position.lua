-- How many ready jobs of its task a claim would take before the job (0: it is next), or
-- false when it is not queued and due, or when more than the limit are ahead.
-- ARGV: prefix, now, job id, limit. Due jobs are moved to the ready set first, as a claim
-- would, so that the rank counts them.
local id, limit = ARGV[3], tonumber(ARGV[4])
local job = load_fields(id, 'status', 'task', 'run_at', 'queue_member')
if not job or job.status ~= 'queued' or tonumber(job.run_at) > now then
  return false
end
promote_due(job.task)
local ahead = redis.call('ZRANK', ready_key(job.task), job.queue_member)
if not ahead or ahead > limit then
  return false
end
return ahead
