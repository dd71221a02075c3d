/**
 * Fills a DLQ fast for bulk tests and the bench: dead-lettered jobs j0, j1, ... written
 * directly by a script, 10,000 per call, in the record format fail.lua leaves (FAILED,
 * attempts spent, completedAt, lastError, the DLQ TTL). Job i is of function 'rare' when
 * i % 1000 is 0, else 'b' when i % 4 is 0, else 'a'; three jobs fail per millisecond, so
 * equal scores order by id bytewise as Redis does.
 */
import type { Redis } from "ioredis"
import * as Keys from "../../src/Keys.js"

const FILL = `
local prefix, queue = ARGV[1], ARGV[2]
local first, n, base = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
for i = first, first + n - 1 do
  local id = 'j' .. i
  local fn = (i % 1000 == 0) and 'rare' or ((i % 4 == 0) and 'b' or 'a')
  local at = base + math.floor(i / 3)
  local jk = prefix .. 'job:' .. id
  redis.call('HSET', jk, 'id', id, 'queue', queue, 'functionName', fn, 'params', '{"i":' .. i .. '}',
    'status', 'FAILED', 'currentRetries', '5', 'maxRetries', '5', 'resultTtlMs', '86400000',
    'enqueuedAt', string.format('%d', at - 60000), 'nextRunAt', string.format('%d', at - 1000), 'stalls', '0',
    'startedAt', string.format('%d', at - 10), 'workerId', 'w1', 'completedAt', string.format('%d', at),
    'lastError', 'Error: boom')
  redis.call('PEXPIRE', jk, 604800000)
  redis.call('ZADD', prefix .. 'dlq', at, id)
end`

export const functionOf = (i: number) => (i % 1000 === 0 ? "rare" : i % 4 === 0 ? "b" : "a")

/** Dead-letters jobs j0..j<n-1> of `queue` (failed a day ago) and registers the queue. */
export const fillDlq = async (admin: Redis, keyPrefix: string, queue: string, n: number, base = Date.now() - 86_400_000) => {
  const keys = Keys.make(keyPrefix)
  for (let first = 0; first < n; first += 10_000) {
    await admin.eval(FILL, 0, keys.queue(queue).prefix, queue, first, Math.min(10_000, n - first), base)
  }
  await admin.sadd(keys.queues, queue)
}

/** The ids of a filled DLQ (of one function), oldest first as Redis orders them. */
export const orderedIds = (n: number, fn?: string) =>
  Array.from({ length: n }, (_, i) => i)
    .filter((i) => fn === undefined || functionOf(i) === fn)
    .sort((x, y) => Math.floor(x / 3) - Math.floor(y / 3) || (`j${x}` < `j${y}` ? -1 : 1))
    .map((i) => `j${i}`)

/** The records by function of a filled DLQ of n jobs. */
export const countsOf = (n: number) => {
  const rare = Math.floor((n - 1) / 1000) + 1
  const b = Math.floor((n - 1) / 4) + 1 - rare
  return { a: n - b - rare, b, rare }
}
