#!lua flags=allow-oom
-- retry: counts a failed attempt; the job runs again after delayMs, or, when its
-- attempts are used up, goes to the DLQ as FAILED.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 id, 3 leaseToken, 4 delayMs, 5 error, 6 dlqTtlMs, 7 uniqueLockTtlMs,
--       8 maxRetries override|'' (a handler's own limit; '' uses the record's)
-- Returns: 'RETRYING', 'FAILED', or 'lost' (lease no longer held; nothing written).
-- @include common

local keys = queueKeys()
local prefix, id, token = ARGV[1], ARGV[2], ARGV[3]
local delay, err = tonumber(ARGV[4]), ARGV[5]
local dlqTtl, lockTtl = tonumber(ARGV[6]), tonumber(ARGV[7])
local jk = jobKey(prefix, id)
if not holdsLease(jk, token) then return 'lost' end
local now = nowMs()
redis.call('ZREM', keys.active, id)
local retries = increment(jk, 'currentRetries')
local maxRetries = tonumber(ARGV[8]) or tonumber(redis.call('HGET', jk, 'maxRetries')) or 0
if retries >= maxRetries then
  deadLetter(prefix, keys, id, now, err, dlqTtl, lockTtl)
  redis.call('PUBLISH', prefix .. 'done', id)
  return 'FAILED'
end
local runAt = now + delay
redis.call('HSET', jk, 'status', 'RETRYING', 'lastError', err, 'nextRunAt', runAt)
redis.call('HDEL', jk, 'leaseToken')
redis.call('ZADD', keys.pending, runAt, id)
refreshUnique(prefix, jk, id, now, lockTtl, runAt)
redis.call('PUBLISH', prefix .. 'wake', int(runAt) .. ' ' .. int(now))
return 'RETRYING'
