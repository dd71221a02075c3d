#!lua flags=allow-oom
-- pause: stops ('1') or resumes ('0') the claims of a queue for every worker at once; enqueues
-- still land. A paused queue is a key, `paused`, which claim looks at first. Resuming publishes a
-- wake-up, so idle workers claim at once instead of at their next poll.
-- KEYS: 1 pending, 2 active, 3 dlq, 4 stats (the queue's slot)
-- ARGV: 1 prefix, 2 '1' (pause) or '0' (resume)
-- Returns: 1 when the state changed, 0 when the queue already was so
-- @include common

local prefix = ARGV[1]
local key = prefix .. 'paused'
if ARGV[2] == '1' then
  if redis.call('SET', key, '1', 'NX') then return 1 end
  return 0
end
if redis.call('DEL', key) == 0 then return 0 end
redis.call('PUBLISH', prefix .. 'wake', int(nowMs()))
return 1
