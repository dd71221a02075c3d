/**
 * The twin of `lua/retry.lua`: counts a failed attempt, back to pending after the
 * delay (rounded to whole ms, as the Redis store sends it), or FAILED into the DLQ
 * when attempts are used up. A `maxRetries` override reaches the script as text
 * (ARGV[8]) and is read back with `tonumber`; when absent the record's limit counts.
 */
import type { Lease, RetryOutcome } from "../../../JobStore.js"
import { hdel, hget, hset, luaToNumber } from "../keyspace.js"
import { type Ctx, deadLetter, holdsLease, increment, refreshUnique } from "./common.js"

export interface RetryArgs {
  readonly delayMs: number
  readonly error: string
  readonly maxRetries?: number | undefined
}

export const retry = (c: Ctx, { id, token }: Lease, args: RetryArgs): RetryOutcome => {
  if (!holdsLease(c, id, token)) return "lost"
  c.q.active.delete(id)
  const retries = increment(c, id, "currentRetries")
  const override = args.maxRetries === undefined ? undefined : luaToNumber(String(args.maxRetries))
  const maxRetries = override ?? luaToNumber(hget(c, id, "maxRetries")) ?? 0
  if (retries >= maxRetries) {
    deadLetter(c, id, args.error)
    return "FAILED"
  }
  const runAt = c.now + Math.max(0, Math.round(args.delayMs))
  hset(c, id, { status: "RETRYING", lastError: args.error, nextRunAt: runAt })
  hdel(c, id, "leaseToken")
  c.q.pending.set(id, runAt)
  refreshUnique(c, id, runAt)
  c.env.wake(c.q, runAt - c.now)
  return "RETRYING"
}
