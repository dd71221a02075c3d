#!lua flags=allow-oom
-- extend: renews the leases a worker still holds, in one call.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 leaseMs, 3 uniqueLockTtlMs, 4 count, then 2 per job: id, leaseToken
-- Returns: one integer per job: 1 renewed, 0 lost (the worker should stop running it).
-- @include common

local keys = queueKeys()
local prefix, leaseMs, lockTtl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = nowMs()
local deadline = now + leaseMs
local out = {}
for i = 0, n - 1 do
  local id, token = ARGV[5 + i * 2], ARGV[6 + i * 2]
  local jk = jobKey(prefix, id)
  if holdsLease(jk, token) then
    redis.call('ZADD', keys.active, 'XX', deadline, id)
    -- a running holder keeps its unique key for as long as it runs
    refreshUnique(prefix, jk, id, now, lockTtl, deadline)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
