#!lua flags=allow-oom
-- fail: counts a failed attempt and moves the job to the DLQ at once (FailJob,
-- invalid params, unknown function, timeout without retryOnTimeout).
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 id, 3 leaseToken, 4 error, 5 dlqTtlMs, 6 uniqueLockTtlMs
-- Returns: 'FAILED', or 'lost' (lease no longer held; nothing written).
-- @include common

local keys = queueKeys()
local prefix, id, token, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local jk = jobKey(prefix, id)
if not holdsLease(jk, token) then return 'lost' end
local now = nowMs()
redis.call('ZREM', keys.active, id)
increment(jk, 'currentRetries')
deadLetter(prefix, keys, id, now, err, tonumber(ARGV[5]), tonumber(ARGV[6]))
redis.call('PUBLISH', prefix .. 'done', id)
return 'FAILED'
