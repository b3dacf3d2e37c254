-- Count one hit on a rate limit's window; the window's key expires a second after it ends
-- (by the caller's clock, as a duration, so Redis's own clock does not matter).
-- ARGV: prefix, now, the limit's key, the window's end. Returns the window's hits so far.
local window_end = tonumber(ARGV[4])
local name = prefix .. 'rate:' .. ARGV[3] .. ':' .. ARGV[4]
local hits = redis.call('INCR', name)
if hits == 1 then
  redis.call('PEXPIRE', name, math.max(1, math.ceil((window_end - now) / 1000)) + 1000)
end
return hits
