#!lua flags=allow-oom
-- promote: deferred or backing-off jobs run now: one job by id, or up to `limit` of a queue's,
-- earliest first. A job already due, running or finished is left as it is; the retry count
-- stays (a promoted retry is still that attempt). Publishes a wake-up when it moved any.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 job id ('' for the queue's), 3 limit
-- Returns: the ids promoted
-- @include common

local keys = queueKeys()
local prefix, id, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = nowMs()
local ids
if id ~= '' then
  local score = tonumber(redis.call('ZSCORE', keys.pending, id))
  ids = (score and score > now) and { id } or {}
else
  ids = redis.call('ZRANGEBYSCORE', keys.pending, '(' .. int(now), '+inf', 'LIMIT', 0, limit)
end
local nowText = int(now)
for _, jobId in ipairs(ids) do
  redis.call('ZADD', keys.pending, nowText, jobId)
  -- a pending entry without its record is left to claim, which quarantines it
  local jk = jobKey(prefix, jobId)
  if redis.call('EXISTS', jk) == 1 then redis.call('HSET', jk, 'nextRunAt', nowText) end
end
if #ids > 0 then redis.call('PUBLISH', prefix .. 'wake', nowText) end
return ids
