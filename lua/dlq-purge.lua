#!lua flags=allow-oom
-- dlq-purge: deletes DLQ jobs (records and entries).
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 limit (0: no limit), 3 functionName|'', 4 id count, then the ids (none: all)
-- Returns: how many entries were removed.
-- @include common

local keys = queueKeys()
local prefix, limit, fn, n = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local candidates = dlqCandidates(keys, n, 4)
local removed = 0
for _, id in ipairs(candidates) do
  if limit > 0 and removed >= limit then break end
  if redis.call('ZSCORE', keys.dlq, id) then
    local jk = jobKey(prefix, id)
    if fn == '' or redis.call('HGET', jk, 'functionName') == fn then
      redis.call('ZREM', keys.dlq, id)
      redis.call('DEL', jk, prefix .. 'corrupt:' .. id)
      removed = removed + 1
    end
  end
end
return removed
