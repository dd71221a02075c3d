#!lua
-- claim: moves up to N ready jobs from pending to active, each with a fresh lease token.
-- Records that are missing or unreadable are quarantined into the DLQ, never dropped.
-- A paused queue (its `paused` key, pause.lua) hands out nothing and says nothing is due.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats, [5 the lease index rrq:leases (single-node Redis only)]
-- ARGV: 1 prefix, 2 queue, 3 count, 4 leaseMs, 5 workerId, 6 token base, 7 dlqTtlMs, 8 uniqueLockTtlMs
-- Returns: { nextRunAt|-1, now, then 10 per job: id, functionName, params, currentRetries,
--            maxRetries, timeoutMs|'', enqueuedAt, leaseToken, traceContext|'', runAt }
--          (runAt: its score in pending, when it became due; the wait metric is now − runAt)
--          nextRunAt is the earliest run-at left in pending (-1: none); now is Redis's clock, the
--          one run-ats are written in: a worker compares them with it, never with its own clock.
-- @include common

local keys = queueKeys()
local prefix, queue = ARGV[1], ARGV[2]
-- at most 1,000 a call: unpack() below has a limit of about 8,000 values
local count, leaseMs = math.min(tonumber(ARGV[3]), 1000), tonumber(ARGV[4])
local workerId, tokenBase = ARGV[5], ARGV[6]
local dlqTtl, lockTtl = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = nowMs()

local out = { -1, now }
if redis.call('EXISTS', prefix .. 'paused') == 1 then return out end
local claimed = 0
local dead = {}
-- One read for both questions: which jobs are due (a prefix, by score) and, from the
-- entry after them, when the next one is (an idle queue costs this one ZRANGE).
local head = redis.call('ZRANGE', keys.pending, 0, count, 'WITHSCORES')
local ids, runAts = {}, {}
for k = 1, #head, 2 do
  local score = tonumber(head[k + 1])
  if score > now or #ids == count then
    out[1] = score
    break
  end
  ids[#ids + 1] = head[k]
  runAts[#ids] = head[k + 1]
end
if #ids == 0 then return out end
redis.call('ZREM', keys.pending, unpack(ids))
local nowText, deadline = int(now), int(now + leaseMs)
local leases = {}
for i, id in ipairs(ids) do
  local jk = jobKey(prefix, id)
  -- pcall: a record of the wrong type answers an error instead of aborting the claim
  local f = redis.pcall('HMGET', jk, 'functionName', 'params', 'currentRetries', 'maxRetries',
    'timeoutMs', 'enqueuedAt', 'traceContext', 'status')
  local status = f[8]
  if f.err then
    quarantine(prefix, keys, queue, id, now, 'Corrupted job record', dlqTtl, lockTtl)
    dead[#dead + 1] = id
  elseif status == 'COMPLETED' or status == 'FAILED' or status == 'CANCELLED' then
    -- a stale pending entry of a finished job: nothing to run
  elseif not f[1] or not f[2] or not tonumber(f[3]) or not tonumber(f[4]) or not tonumber(f[6]) then
    if redis.call('EXISTS', jk) == 0 then
      quarantine(prefix, keys, queue, id, now, 'Job record missing: a pending entry had no record', dlqTtl, lockTtl)
    else
      quarantine(prefix, keys, queue, id, now, 'Corrupted job record: missing or invalid fields', dlqTtl, lockTtl)
    end
    dead[#dead + 1] = id
  else
    local token = tokenBase .. '-' .. i
    redis.call('HSET', jk, 'status', 'ACTIVE', 'workerId', workerId, 'startedAt', nowText, 'leaseToken', token)
    leases[#leases + 1] = deadline
    leases[#leases + 1] = id
    claimed = claimed + 1
    local b = #out
    out[b + 1] = id
    out[b + 2] = f[1]
    out[b + 3] = f[2]
    out[b + 4] = f[3]
    out[b + 5] = f[4]
    out[b + 6] = f[5] or ''
    out[b + 7] = f[6]
    out[b + 8] = token
    out[b + 9] = f[7] or ''
    out[b + 10] = runAts[i]
  end
end
if #leases > 0 then
  redis.call('ZADD', keys.active, unpack(leases))
  -- the lease index keeps a lower bound of each queue's earliest lease deadline, so that a
  -- recovery sweep finds the queues with expired leases in one call instead of one per queue
  if KEYS[5] then redis.call('ZADD', KEYS[5], 'LT', deadline, queue) end
end

if #dead > 0 then redis.call('PUBLISH', prefix .. 'done', table.concat(dead, ' ')) end
return out
