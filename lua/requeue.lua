#!lua flags=allow-oom
-- requeue: returns running jobs to pending without counting an attempt (graceful shutdown).
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 count, then 2 per job: id, leaseToken
-- Returns: one integer per job: 1 requeued, 0 lost.
-- @include common

local keys = queueKeys()
local prefix, n = ARGV[1], tonumber(ARGV[2])
local now = nowMs()
local out, any = {}, false
for i = 0, n - 1 do
  local id, token = ARGV[3 + i * 2], ARGV[4 + i * 2]
  local jk = jobKey(prefix, id)
  if holdsLease(jk, token) then
    redis.call('ZREM', keys.active, id)
    backToPending(keys, jk, id, now)
    out[#out + 1] = 1
    any = true
  else
    out[#out + 1] = 0
  end
end
if any then redis.call('PUBLISH', prefix .. 'wake', now) end
return out
