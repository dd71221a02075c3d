#!lua flags=allow-oom
-- cancel: a pending job becomes CANCELLED at once; a running one too, and its worker
-- is told (on the cancel channel) to interrupt it: its later completion answers "lost".
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 id, 3 uniqueLockTtlMs
-- Returns: { 'NOTFOUND' } | { 'FINISHED', status } | { 'CANCELLED', 1 if it was running else 0 }
-- @include common

local keys = queueKeys()
local prefix, id, lockTtl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local jk = jobKey(prefix, id)
if redis.call('TYPE', jk)['ok'] ~= 'hash' then return { 'NOTFOUND' } end
local f = redis.call('HMGET', jk, 'status', 'uniqueKey', 'resultTtlMs')
local status = f[1]
if status == 'COMPLETED' or status == 'FAILED' or status == 'CANCELLED' then
  return { 'FINISHED', status }
end
local now = nowMs()
local running = status == 'ACTIVE'
redis.call('ZREM', keys.pending, id)
redis.call('ZREM', keys.active, id)
if f[2] then redis.call('ZREM', prefix .. 'unique-waiting:' .. f[2], id) end
redis.call('HSET', jk, 'status', 'CANCELLED', 'completedAt', now)
redis.call('HDEL', jk, 'leaseToken')
releaseUnique(prefix, keys.pending, id, now, lockTtl)
expireOrPersist(jk, tonumber(f[3]) or 0)
if running then redis.call('PUBLISH', prefix .. 'cancel', id) end
redis.call('PUBLISH', prefix .. 'done', id)
return { 'CANCELLED', running and 1 or 0 }
