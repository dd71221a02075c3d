#!lua flags=allow-oom
-- extend: renews the leases a worker still holds, in one call.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 leaseMs, 3 count, then 2 per job: id, leaseToken
-- Returns: one integer per job: 1 renewed, 0 lost (the worker should stop running it).
-- @include common

local keys = queueKeys()
local prefix, leaseMs, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = nowMs() + leaseMs
local out = {}
for i = 0, n - 1 do
  local id, token = ARGV[4 + i * 2], ARGV[5 + i * 2]
  if holdsLease(jobKey(prefix, id), token) then
    redis.call('ZADD', keys.active, 'XX', deadline, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
