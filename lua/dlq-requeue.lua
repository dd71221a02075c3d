#!lua
-- dlq-requeue: moves DLQ jobs back to pending with currentRetries, stalls, status and
-- expiry reset (RRQ's requeue kept them). Entries whose record expired are dropped from the DLQ.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 uniqueLockTtlMs, 3 limit (0: no limit), 4 functionName|'', 5 id count,
--       then the ids (none: every DLQ entry, oldest first)
-- Returns: the requeued ids.
-- @include common

local keys = queueKeys()
local prefix, lockTtl = ARGV[1], tonumber(ARGV[2])
local limit, fn, n = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local now = nowMs()
local candidates = dlqCandidates(keys, n, 5)
local out = {}
for _, id in ipairs(candidates) do
  if limit > 0 and #out >= limit then break end
  if redis.call('ZSCORE', keys.dlq, id) then
    local jk = jobKey(prefix, id)
    if redis.call('TYPE', jk)['ok'] ~= 'hash' then
      redis.call('ZREM', keys.dlq, id)
    elseif fn == '' or redis.call('HGET', jk, 'functionName') == fn then
      redis.call('ZREM', keys.dlq, id)
      redis.call('HSET', jk, 'status', 'PENDING', 'currentRetries', 0, 'stalls', 0, 'nextRunAt', now)
      redis.call('HDEL', jk, 'completedAt', 'startedAt', 'result', 'leaseToken', 'workerId')
      redis.call('PERSIST', jk)
      local unique = redis.call('HGET', jk, 'uniqueKey')
      if not unique or acquireUnique(prefix, unique, id, now, lockTtl, now) then
        redis.call('ZADD', keys.pending, now, id)
      end
      out[#out + 1] = id
    end
  end
end
if #out > 0 then redis.call('PUBLISH', prefix .. 'wake', now) end
return out
