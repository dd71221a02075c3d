/**
 * The twin of `lua/cancel.lua`: a pending job is cancelled at once, a running one
 * marked CANCELLED. `undefined` when there is no job record (NOTFOUND). The store
 * publishes `cancel` for a job that was running, after the script, as a message would arrive.
 */
import type { CancelOutcome } from "../../../JobStore.js"
import { hdel, hget, hset, keyType, luaToNumber } from "../keyspace.js"
import { type Ctx, expireOrPersist, isTerminalStatus, releaseUnique } from "./common.js"

export const cancel = (c: Ctx, id: string): CancelOutcome | undefined => {
  if (keyType(c, id) !== "hash") return undefined
  const status = hget(c, id, "status")
  const uniqueKey = hget(c, id, "uniqueKey")
  const resultTtlMs = hget(c, id, "resultTtlMs")
  if (isTerminalStatus(status)) return { _tag: "AlreadyFinished", status }
  const running = status === "ACTIVE"
  c.q.pending.delete(id)
  c.q.active.delete(id)
  if (uniqueKey !== undefined) {
    const waiting = c.q.uniqueWaiting.get(uniqueKey)
    waiting?.delete(id)
    if (waiting?.size === 0) c.q.uniqueWaiting.delete(uniqueKey)
  }
  hset(c, id, { status: "CANCELLED", completedAt: c.now })
  hdel(c, id, "leaseToken")
  releaseUnique(c, id)
  expireOrPersist(c, id, luaToNumber(resultTtlMs) ?? 0)
  c.env.done(c.q, id)
  return { _tag: "Cancelled", wasRunning: running }
}
