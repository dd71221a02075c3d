/** The twin of `lua/extend.lua`: renews leases (ZADD XX: a job no longer in active is not added back). */
import type { Lease } from "../../../JobStore.js"
import { type Ctx, holdsLease, refreshUnique } from "./common.js"

export const extend = (c: Ctx, leases: ReadonlyArray<Lease>, leaseMs: number): Array<boolean> =>
  leases.map(({ id, token }) => {
    if (!holdsLease(c, id, token)) return false
    if (c.q.active.has(id)) c.q.active.set(id, c.now + leaseMs)
    // a running holder keeps its unique key for as long as it runs
    refreshUnique(c, id, c.now + leaseMs)
    return true
  })
