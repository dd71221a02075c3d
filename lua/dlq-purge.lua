#!lua flags=allow-oom
-- dlq-purge: deletes DLQ jobs (records and entries). One bounded chunk per call
-- (dlqChunk in common); the caller loops on the cursor.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 limit (0: no limit), 3 functionName|'', 4 chunk size, 5 horizon|'',
--       6 cursor id|'', 7 cursor score|'', 8 id count, then the ids (none: the DLQ, oldest first)
-- Returns: horizon, cursor id, cursor score, done (1|0), then the purged ids.
-- @include common

local keys = queueKeys()
local prefix, limit, fn = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local scan = dlqChunk(keys, 4)
local out = dlqEach(keys, scan, limit, function(id)
  local jk = jobKey(prefix, id)
  if not dlqReports('purge', dlqRecord(jk, fn), fn) then return false end
  redis.call('ZREM', keys.dlq, id)
  redis.call('DEL', jk, prefix .. 'corrupt:' .. id)
  return true
end)
return dlqReply(keys, scan, out)
