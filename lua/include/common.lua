-- Shared helpers, pasted into a script where it says "-- @include common".
-- Every key is derived from `prefix` (rrq:{queue}:), so it stays in the queue's slot.

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- An integer as text. Redis formats a number argument of redis.call with "%.17g", which
-- costs more than the rest of an HSET field; hot scripts pass numbers they reuse as text.
local function int(n)
  return string.format('%d', n)
end

local function jobKey(prefix, id)
  return prefix .. 'job:' .. id
end

-- Adds 1 to a counter field of a job; a field that is not a number counts as 0
-- (HINCRBY would abort the script halfway on a damaged record).
local function increment(jk, field)
  local value = (tonumber(redis.call('HGET', jk, field)) or 0) + 1
  redis.call('HSET', jk, field, value)
  return value
end

-- Sets a TTL, or removes it when ttl is 0 (keep forever).
local function expireOrPersist(key, ttl)
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
end

-- A unique lock lives as long as its holder is pending or running: it is taken (or handed
-- over) to last until the holder's run-at plus lockTtl, and refreshed by every lease
-- renewal, retry and recovery; lockTtl is only the backstop against a lost holder.
local function lockLife(now, runAt, lockTtl)
  return int(lockTtl + math.max(0, runAt - now))
end

-- Takes the unique lock for a job due at runAt, or parks the job in the key's waiting set.
-- Returns true when the job may go to pending now.
local function acquireUnique(prefix, uniqueKey, id, now, lockTtl, runAt)
  local lock = prefix .. 'unique:' .. uniqueKey
  local holder = redis.call('GET', lock)
  local life = lockLife(now, runAt, lockTtl)
  if holder == id then
    redis.call('PEXPIRE', lock, life)
    return true
  end
  if not holder and redis.call('SET', lock, id, 'PX', life, 'NX') then
    return true
  end
  redis.call('ZADD', prefix .. 'unique-waiting:' .. uniqueKey, now, id)
  return false
end

-- A job that held its unique key reached a terminal state: hand the key to the
-- first job still waiting for it (it becomes runnable now), or free it.
local function releaseUnique(prefix, pendingKey, id, now, lockTtl)
  local jk = jobKey(prefix, id)
  local uniqueKey = redis.call('HGET', jk, 'uniqueKey')
  if not uniqueKey then return end
  local lock = prefix .. 'unique:' .. uniqueKey
  local holder = redis.call('GET', lock)
  if holder and holder ~= id then return end
  local waiting = prefix .. 'unique-waiting:' .. uniqueKey
  while true do
    local nextId = redis.call('ZRANGE', waiting, 0, 0)[1]
    if not nextId then
      redis.call('DEL', lock)
      return
    end
    redis.call('ZREM', waiting, nextId)
    local nk = jobKey(prefix, nextId)
    local fields = redis.call('HMGET', nk, 'status', 'nextRunAt')
    if fields[1] == 'PENDING' then
      local runAt = tonumber(fields[2]) or now
      if runAt < now then runAt = now end
      redis.call('SET', lock, nextId, 'PX', lockLife(now, runAt, lockTtl))
      redis.call('HSET', nk, 'nextRunAt', runAt)
      redis.call('ZADD', pendingKey, runAt, nextId)
      redis.call('PUBLISH', prefix .. 'wake', int(runAt) .. ' ' .. int(now))
      return
    end
  end
end

-- Keeps a job's unique lock (if it holds one) alive until runAt plus lockTtl.
local function refreshUnique(prefix, jk, id, now, lockTtl, runAt)
  local uniqueKey = redis.call('HGET', jk, 'uniqueKey')
  if not uniqueKey then return end
  local lock = prefix .. 'unique:' .. uniqueKey
  if redis.call('GET', lock) == id then redis.call('PEXPIRE', lock, lockLife(now, runAt, lockTtl)) end
end

-- The four keys every transition script receives, in this order.
local function queueKeys()
  return { pending = KEYS[1], active = KEYS[2], dlq = KEYS[3], stats = KEYS[4] }
end

-- Moves a job to the dead-letter queue as FAILED.
local function deadLetter(prefix, keys, id, now, err, dlqTtl, lockTtl)
  local jk = jobKey(prefix, id)
  redis.call('HSET', jk, 'status', 'FAILED', 'completedAt', now, 'lastError', err)
  redis.call('HDEL', jk, 'leaseToken')
  redis.call('ZADD', keys.dlq, now, id)
  redis.call('HINCRBY', keys.stats, 'failedTotal', 1)
  releaseUnique(prefix, keys.pending, id, now, lockTtl)
  expireOrPersist(jk, dlqTtl)
end

-- A record that cannot be run (missing, not a hash, or missing fields) goes to the
-- DLQ with a clear reason. Whatever was there is kept; missing fields get
-- placeholders so the record can be read and inspected.
local function quarantine(prefix, keys, queue, id, now, reason, dlqTtl, lockTtl)
  local jk = jobKey(prefix, id)
  local kind = redis.call('TYPE', jk)['ok']
  if kind ~= 'hash' and kind ~= 'none' then
    local kept = prefix .. 'corrupt:' .. id
    redis.call('RENAME', jk, kept)
    reason = reason .. ' (the record was a ' .. kind .. ', kept at ' .. kept .. ')'
  end
  local defaults = { 'id', id, 'queue', queue, 'functionName', '(unknown)', 'params', 'null',
    'currentRetries', '0', 'maxRetries', '0', 'enqueuedAt', tostring(now), 'stalls', '0' }
  for i = 1, #defaults, 2 do
    local field = defaults[i]
    local value = redis.call('HGET', jk, field)
    local numeric = field == 'currentRetries' or field == 'maxRetries' or field == 'enqueuedAt' or field == 'stalls'
    if not value or (numeric and not tonumber(value)) then
      if value then reason = reason .. '; ' .. field .. ' was ' .. string.format('%q', value) end
      redis.call('HSET', jk, field, defaults[i + 1])
    end
  end
  redis.call('ZREM', keys.pending, id)
  redis.call('ZREM', keys.active, id)
  deadLetter(prefix, keys, id, now, reason, dlqTtl, lockTtl)
end

-- Redis orders the members of equal score bytewise; Lua's `<` on strings follows the
-- locale (Redis sets LC_COLLATE), so the DLQ cursor compares bytes itself.
local function bytesBefore(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- DLQ bulk operations (requeue, purge, their dry runs, the count by function) take one
-- bounded chunk per call; the caller calls again with the cursor of the reply until it
-- says done. ARGV from `at`: chunk size, horizon ('' on the first call: now), cursor id
-- ('' for none) and its score, id count, then the ids.
-- Given ids, those are the chunk (the caller slices them). Else the chunk is the next
-- `chunk` DLQ entries, oldest first, after the cursor: the last entry a previous call saw
-- that stayed in the DLQ (what it requeued or purged left, so its rank moved). Only
-- entries failed at or before the horizon count: a job requeued and failed again, or a
-- new failure, lands after it, so the scan is never longer than the DLQ it started on.
-- Returns { ids (to act on), seen (entries passed, for the next cursor), scores, horizon, done }.
local function dlqChunk(keys, at)
  local chunk, horizon = tonumber(ARGV[at]), tonumber(ARGV[at + 1]) or nowMs()
  local cursor, cursorScore, n = ARGV[at + 2], ARGV[at + 3], tonumber(ARGV[at + 4])
  local scan = { ids = {}, seen = {}, scores = {}, horizon = horizon, cursor = cursor,
    cursorScore = cursorScore, done = true }
  if n > 0 then
    for i = 1, n do scan.ids[i] = ARGV[at + 4 + i] end
    return scan
  end
  local start, tie = 0, nil
  if cursor ~= '' then
    local rank = redis.call('ZRANK', keys.dlq, cursor)
    if rank and tonumber(redis.call('ZSCORE', keys.dlq, cursor)) == tonumber(cursorScore) then
      start = rank + 1
    else
      -- the cursor left the DLQ meanwhile (another requeue or purge): resume at its score,
      -- passing the entries of that score that sort before it (seen already)
      start = redis.call('ZCOUNT', keys.dlq, '-inf', '(' .. cursorScore)
      tie = tonumber(cursorScore)
    end
  end
  local entries = redis.call('ZRANGE', keys.dlq, start, start + chunk - 1, 'WITHSCORES')
  scan.done = #entries < 2 * chunk
  for i = 1, #entries, 2 do
    local id, score = entries[i], entries[i + 1]
    if tonumber(score) > horizon then
      scan.done = true
      break
    end
    local k = #scan.seen + 1
    scan.seen[k], scan.scores[k] = id, score
    if not (tie and tonumber(score) == tie and bytesBefore(id, cursor)) then scan.ids[#scan.ids + 1] = id end
  end
  return scan
end

-- The reply of a chunk: horizon, the next cursor (the last entry seen still in the DLQ,
-- else the one given), done (1|0), then the results. A call that stops at its limit ends
-- the operation (the caller does not call again).
local function dlqReply(keys, scan, results)
  local cursor, score = scan.cursor, scan.cursorScore
  for i = #scan.seen, 1, -1 do
    if redis.call('ZSCORE', keys.dlq, scan.seen[i]) then
      cursor, score = scan.seen[i], scan.scores[i]
      break
    end
  end
  local reply = { scan.horizon, cursor, score, scan.done and 1 or 0 }
  for i = 1, #results do reply[4 + i] = results[i] end
  return reply
end

-- Calls visit(id) for each id of a chunk still in the DLQ, until `limit` (0: no limit)
-- of them were reported (visit returned true). Returns the reported ids.
local function dlqEach(keys, scan, limit, visit)
  local out = {}
  for _, id in ipairs(scan.ids) do
    if limit > 0 and #out >= limit then break end
    if redis.call('ZSCORE', keys.dlq, id) and visit(id) then out[#out + 1] = id end
  end
  return out
end

-- What a DLQ requeue or purge with the function filter fn ('' for any) makes of a
-- record: 'match', 'other' (another function's) or 'gone' (expired, or not a hash).
local function dlqRecord(jk, fn)
  if redis.call('TYPE', jk)['ok'] ~= 'hash' then return 'gone' end
  if fn == '' or redis.call('HGET', jk, 'functionName') == fn then return 'match' end
  return 'other'
end

-- Whether a requeue or purge (action) reports an entry: a requeue moves matching records
-- (and drops the entries of gone ones unreported); a purge deletes matching records, and
-- without a function filter every entry.
local function dlqReports(action, record, fn)
  return record == 'match' or (action == 'purge' and fn == '' and record == 'gone')
end

-- Returns a running job to pending without counting an attempt. It keeps its place
-- in the queue (its run-at, never later than now) instead of going behind the backlog.
local function backToPending(keys, jk, id, now)
  local f = redis.call('HMGET', jk, 'currentRetries', 'nextRunAt')
  local runAt = tonumber(f[2]) or now
  if runAt > now then runAt = now end
  redis.call('HSET', jk, 'status', (tonumber(f[1]) or 0) > 0 and 'RETRYING' or 'PENDING', 'nextRunAt', runAt)
  redis.call('HDEL', jk, 'leaseToken')
  redis.call('ZADD', keys.pending, runAt, id)
end

-- Reads a job's lease; true when the caller still holds it.
local function holdsLease(jk, token)
  local f = redis.call('HMGET', jk, 'status', 'leaseToken')
  return f[1] == 'ACTIVE' and f[2] == token
end
