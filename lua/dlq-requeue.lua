#!lua
-- dlq-requeue: moves DLQ jobs back to pending with currentRetries, stalls, status and
-- expiry reset (RRQ's requeue kept them). Entries whose record expired are dropped from the
-- DLQ. One bounded chunk per call (dlqChunk in common); the caller loops on the cursor.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 uniqueLockTtlMs, 3 limit (0: no limit), 4 functionName|'',
--       5 chunk size, 6 horizon|'', 7 cursor id|'', 8 cursor score|'', 9 id count,
--       then the ids (none: the DLQ, oldest first)
-- Returns: horizon, cursor id, cursor score, done (1|0), then the requeued ids.
-- @include common

local keys = queueKeys()
local prefix, lockTtl = ARGV[1], tonumber(ARGV[2])
local limit, fn = tonumber(ARGV[3]), ARGV[4]
local scan = dlqChunk(keys, 5)
local now = nowMs()
local out = dlqEach(keys, scan, limit, function(id)
  local jk = jobKey(prefix, id)
  local record = dlqRecord(jk, fn)
  if record ~= 'match' then
    if record == 'gone' then redis.call('ZREM', keys.dlq, id) end
    return false
  end
  redis.call('ZREM', keys.dlq, id)
  redis.call('HSET', jk, 'status', 'PENDING', 'currentRetries', 0, 'stalls', 0, 'nextRunAt', now)
  redis.call('HDEL', jk, 'completedAt', 'startedAt', 'result', 'leaseToken', 'workerId')
  redis.call('PERSIST', jk)
  local unique = redis.call('HGET', jk, 'uniqueKey')
  if not unique or acquireUnique(prefix, unique, id, now, lockTtl, now) then
    redis.call('ZADD', keys.pending, now, id)
  end
  return true
end)
if #out > 0 then redis.call('PUBLISH', prefix .. 'wake', now) end
return dlqReply(keys, scan, out)
