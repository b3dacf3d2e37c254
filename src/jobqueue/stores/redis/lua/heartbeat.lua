-- Extend the leases still held, and report the lost ones and those asked to cancel. Renewing
-- changes nothing a client sees, so versions stay and nothing is announced.
-- ARGV: prefix, now, lease expiry, then job id and token pairs. Returns {lost ids, cancel ids}.
local lease_until = ARGV[3]
local lost, cancel = {}, {}
for i = 4, #ARGV, 2 do
  local id = ARGV[i]
  local job = leased(id, ARGV[i + 1])
  if job then
    redis.call('HSET', job_key(id), 'lease_expires_at', lease_until)
    redis.call('ZADD', prefix .. 'leased', lease_until, id)
    if job.is_cancel_requested == '1' then
      cancel[#cancel + 1] = id
    end
  else
    lost[#lost + 1] = id
  end
end
return {lost, cancel}
