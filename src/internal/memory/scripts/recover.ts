/** The twin of `lua/recover.lua`: jobs whose lease expired back to pending, or to the DLQ after `maxStalls`. */
import type { RecoverOutcome } from "../../../JobStore.js"
import { hget, keyType, zrangeByScore } from "../keyspace.js"
import { backToPending, type Ctx, deadLetter, increment, quarantine, refreshUnique } from "./common.js"

export interface RecoverArgs {
  readonly maxStalls: number
  readonly limit: number
}

export const recover = (c: Ctx, { limit, maxStalls }: RecoverArgs): RecoverOutcome => {
  const requeued: Array<string> = []
  const deadLettered: Array<string> = []
  for (const [id] of zrangeByScore(c.q.active, c.now, limit)) {
    c.q.active.delete(id)
    if (keyType(c, id) !== "hash") {
      quarantine(c, id, "Job record missing or unreadable: found with an expired lease")
      deadLettered.push(id)
    } else if (hget(c, id, "status") === "ACTIVE") {
      const stalls = increment(c, id, "stalls")
      const worker = hget(c, id, "workerId") ?? "?"
      if (stalls > maxStalls) {
        deadLetter(c, id, `Job lost: worker ${worker} stopped renewing its lease (${stalls} stalls, maxStalls ${maxStalls})`)
        deadLettered.push(id)
      } else {
        backToPending(c, id)
        refreshUnique(c, id, c.now)
        requeued.push(id)
      }
    }
  }
  if (requeued.length > 0) c.env.wake(c.q)
  return { requeued, deadLettered }
}
