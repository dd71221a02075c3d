#!lua
-- enqueue: writes new jobs (record + pending entry, or unique-key wait) atomically.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix (rrq:{q}:), 2 queue, 3 uniqueLockTtlMs, 4 idempotencyTtlMs, 5 job count, 6 shape count,
--       then 10 per shape (the fields jobs of one batch usually share, sent once): functionName,
--       maxRetries, timeoutMs|'', resultTtlMs, runAt (absolute ms)|'', delayMs, uniqueKey|'',
--       idempotencyKey|'', traceContext|'', fresh ('1': the producer just generated the ids, so they
--       cannot exist; '0': check them),
--       then per job: id, params, and its shape (1-based) when there is more than one shape.
-- Returns: { 'DUP', id } when an id exists (nothing written), else the jobs whose
--          idempotency key answered with an existing job, 2 per job: index (1-based), its id.
-- @include common

local keys = queueKeys()
local prefix, queue = ARGV[1], ARGV[2]
local lockTtl, idemTtl = tonumber(ARGV[3]), tonumber(ARGV[4])
local n, s = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = nowMs()
local nowText = int(now)
local S = 10
local J = s == 1 and 2 or 3
local jobsAt = 7 + s * S
local jobPrefix = prefix .. 'job:'

local shapes = {}
local checkIds = false
for k = 1, s do
  local b = 7 + (k - 1) * S
  local runAt = tonumber(ARGV[b + 4]) or (now + tonumber(ARGV[b + 5]))
  local fresh = ARGV[b + 9] == '1'
  shapes[k] = {
    functionName = ARGV[b], maxRetries = ARGV[b + 1], timeoutMs = ARGV[b + 2], resultTtlMs = ARGV[b + 3],
    runAt = runAt, runAtText = int(runAt),
    unique = ARGV[b + 6], idem = ARGV[b + 7], trace = ARGV[b + 8], fresh = fresh
  }
  checkIds = checkIds or not fresh
end
local function shapeOf(b)
  return s == 1 and shapes[1] or shapes[tonumber(ARGV[b + 2])]
end

-- First pass: reject the whole call if any id exists (unless its idempotency key answers for it).
for i = 0, checkIds and n - 1 or -1 do
  local b = jobsAt + i * J
  local shape = shapeOf(b)
  if not shape.fresh then
    local existing = shape.idem ~= '' and redis.call('GET', prefix .. 'idem:' .. shape.idem)
    if not existing and redis.call('EXISTS', jobPrefix .. ARGV[b]) == 1 then
      return { 'DUP', ARGV[b] }
    end
  end
end

local out = {}
local earliest = nil
-- pending entries, written with one ZADD per 1,000 jobs (unpack() takes about 8,000 values)
local ready, r = {}, 0
local function flushReady()
  if r > 0 then redis.call('ZADD', keys.pending, unpack(ready, 1, r)) end
  ready, r = {}, 0
end
for i = 0, n - 1 do
  local b = jobsAt + i * J
  local id = ARGV[b]
  local shape = shapeOf(b)
  local idem = shape.idem
  local existing = idem ~= '' and redis.call('GET', prefix .. 'idem:' .. idem)
  if existing then
    out[#out + 1] = i + 1
    out[#out + 1] = existing
  else
    local jk = jobPrefix .. id
    redis.call('HSET', jk, 'id', id, 'queue', queue, 'functionName', shape.functionName, 'params', ARGV[b + 1],
      'status', 'PENDING', 'currentRetries', '0', 'maxRetries', shape.maxRetries, 'resultTtlMs', shape.resultTtlMs,
      'enqueuedAt', nowText, 'nextRunAt', shape.runAtText, 'stalls', '0')
    if shape.timeoutMs ~= '' then redis.call('HSET', jk, 'timeoutMs', shape.timeoutMs) end
    if shape.trace ~= '' then redis.call('HSET', jk, 'traceContext', shape.trace) end
    local unique = shape.unique
    local runnable = true
    if unique ~= '' then
      redis.call('HSET', jk, 'uniqueKey', unique)
      runnable = acquireUnique(prefix, unique, id, now, lockTtl, shape.runAt)
    end
    if runnable then
      ready[r + 1], ready[r + 2], r = shape.runAtText, id, r + 2
      if r >= 2000 then flushReady() end
      if not earliest or shape.runAt < earliest then earliest = shape.runAt end
    end
    if idem ~= '' then
      redis.call('SET', prefix .. 'idem:' .. idem, id, 'PX', idemTtl)
    end
  end
end

flushReady()
-- the wake-up says when the earliest job is due, and Redis's now: a worker waits run-at − now
if earliest then redis.call('PUBLISH', prefix .. 'wake', int(earliest) .. ' ' .. nowText) end
return out
