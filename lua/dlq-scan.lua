#!lua flags=no-writes
-- dlq-scan: reads the DLQ in the chunks of dlq-requeue and dlq-purge, changing nothing:
-- the ids one of them would act on (its dry run), or the records by function name.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats
-- ARGV: 1 prefix, 2 mode ('requeue', 'purge' or 'count'), 3 limit (0: no limit),
--       4 functionName|'', 5 chunk size, 6 horizon|'', 7 cursor id|'', 8 cursor score|'',
--       9 id count, then the ids (none: the DLQ, oldest first)
-- Returns: horizon, cursor id, cursor score, done (1|0), then the ids (requeue, purge),
--          or function name and count pairs of the records in this chunk (count).
-- @include common

local keys = queueKeys()
local prefix, mode, limit, fn = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local scan = dlqChunk(keys, 5)
local out
if mode == 'count' then
  local counts, names = {}, {}
  dlqEach(keys, scan, 0, function(id)
    local jk = jobKey(prefix, id)
    local name = redis.call('TYPE', jk)['ok'] == 'hash' and redis.call('HGET', jk, 'functionName')
    if name then
      if not counts[name] then
        counts[name] = 0
        names[#names + 1] = name
      end
      counts[name] = counts[name] + 1
    end
    return false
  end)
  out = {}
  for _, name in ipairs(names) do
    out[#out + 1] = name
    out[#out + 1] = counts[name]
  end
else
  out = dlqEach(keys, scan, limit, function(id)
    return dlqReports(mode, dlqRecord(jobKey(prefix, id), fn), fn)
  end)
end
return dlqReply(keys, scan, out)
