/** The twin of `lua/complete.lua`: records results; false for each completion whose lease was lost. */
import type { Completion } from "../../../JobStore.js"
import { hdel, hget, hset, luaToNumber } from "../keyspace.js"
import { type Ctx, expireOrPersist, holdsLease, releaseUnique } from "./common.js"

export const complete = (c: Ctx, completions: ReadonlyArray<Completion>): Array<boolean> =>
  completions.map(({ id, result, token }) => {
    if (!holdsLease(c, id, token)) return false
    c.q.active.delete(id)
    hset(c, id, { status: "COMPLETED", result, completedAt: c.now })
    hdel(c, id, "leaseToken")
    c.q.completedTotal += 1
    releaseUnique(c, id)
    expireOrPersist(c, id, luaToNumber(hget(c, id, "resultTtlMs")) ?? 0)
    c.env.done(c.q, id)
    return true
  })
