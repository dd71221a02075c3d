#!lua
-- recover: jobs whose lease expired (their worker died or hung) go back to pending
-- with stalls + 1 and no attempt counted; past maxStalls they go to the DLQ.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats, [5 the lease index rrq:leases (single-node Redis only)]
-- ARGV: 1 prefix, 2 queue, 3 maxStalls, 4 limit, 5 dlqTtlMs, 6 uniqueLockTtlMs
-- Returns: { requeued ids, dead-lettered ids }
-- With the lease index, the queue's entry is set to its earliest lease deadline left, or
-- removed when none is left (claims only ever lower it).
-- @include common

local keys = queueKeys()
local prefix, queue = ARGV[1], ARGV[2]
local maxStalls, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local dlqTtl, lockTtl = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = nowMs()
local requeued, dead = {}, {}
-- the earliest lease first: an idle queue costs this one read
local head = redis.call('ZRANGE', keys.active, 0, 0, 'WITHSCORES')
local ids = {}
if head[1] and tonumber(head[2]) <= now then
  ids = redis.call('ZRANGEBYSCORE', keys.active, '-inf', now, 'LIMIT', 0, limit)
end
for _, id in ipairs(ids) do
  redis.call('ZREM', keys.active, id)
  local jk = jobKey(prefix, id)
  if redis.call('TYPE', jk)['ok'] ~= 'hash' then
    quarantine(prefix, keys, queue, id, now, 'Job record missing or unreadable: found with an expired lease', dlqTtl, lockTtl)
    dead[#dead + 1] = id
  elseif redis.call('HGET', jk, 'status') == 'ACTIVE' then
    local stalls = increment(jk, 'stalls')
    local worker = redis.call('HGET', jk, 'workerId') or '?'
    if stalls > maxStalls then
      deadLetter(prefix, keys, id, now, 'Job lost: worker ' .. worker .. ' stopped renewing its lease (' ..
        stalls .. ' stalls, maxStalls ' .. maxStalls .. ')', dlqTtl, lockTtl)
      dead[#dead + 1] = id
    else
      backToPending(keys, jk, id, now)
      refreshUnique(prefix, jk, id, now, lockTtl, now)
      requeued[#requeued + 1] = id
    end
  end
end
if KEYS[5] then
  if #ids > 0 then head = redis.call('ZRANGE', keys.active, 0, 0, 'WITHSCORES') end
  if head[1] then
    redis.call('ZADD', KEYS[5], head[2], queue)
  else
    redis.call('ZREM', KEYS[5], queue)
  end
end
if #requeued > 0 then redis.call('PUBLISH', prefix .. 'wake', now) end
if #dead > 0 then redis.call('PUBLISH', prefix .. 'done', table.concat(dead, ' ')) end
return { requeued, dead }
