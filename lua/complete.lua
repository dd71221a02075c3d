#!lua flags=allow-oom
-- complete: records the results of jobs whose lease the caller still holds.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 uniqueLockTtlMs, 3 count, then 3 per job: id, leaseToken, result (JSON)
-- Returns: one integer per job: 1 completed, 0 lost (lease no longer held; nothing written).
-- @include common

local keys = queueKeys()
local prefix, lockTtl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = nowMs()
local nowText = int(now)
local out, done = {}, {}
for i = 0, n - 1 do
  local id, token, result = ARGV[4 + i * 3], ARGV[5 + i * 3], ARGV[6 + i * 3]
  local jk = jobKey(prefix, id)
  local f = redis.call('HMGET', jk, 'status', 'leaseToken', 'uniqueKey', 'resultTtlMs')
  if f[1] == 'ACTIVE' and f[2] == token then
    redis.call('HSET', jk, 'status', 'COMPLETED', 'result', result, 'completedAt', nowText)
    redis.call('HDEL', jk, 'leaseToken')
    if f[3] then releaseUnique(prefix, keys.pending, id, now, lockTtl) end
    expireOrPersist(jk, tonumber(f[4]) or 0)
    out[#out + 1] = 1
    done[#done + 1] = id
  else
    out[#out + 1] = 0
  end
end
if #done > 0 then
  redis.call('ZREM', keys.active, unpack(done))
  redis.call('HINCRBY', keys.stats, 'completedTotal', #done)
  redis.call('PUBLISH', prefix .. 'done', table.concat(done, ' '))
end
return out
