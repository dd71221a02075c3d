#!lua flags=no-writes
-- stalled: the queues whose leases may have expired, from the lease index (single-node Redis):
-- each queue's entry is at most its earliest lease deadline (claim lowers it, recover sets it),
-- so every queue holding an expired lease is among those due; a recovery sweep runs recover on
-- those only, instead of on every queue it serves.
-- KEYS: 1 the lease index (rrq:leases)
-- Returns: the names of the queues whose entry is due (Redis's clock)
-- @include common

return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs())
