/** The twin of `lua/requeue.lua`: running jobs back to pending without counting an attempt (shutdown). */
import type { Lease } from "../../../JobStore.js"
import { backToPending, type Ctx, holdsLease } from "./common.js"

export const requeue = (c: Ctx, leases: ReadonlyArray<Lease>): Array<boolean> => {
  const out = leases.map(({ id, token }) => {
    if (!holdsLease(c, id, token)) return false
    c.q.active.delete(id)
    backToPending(c, id)
    return true
  })
  if (out.includes(true)) c.env.wake(c.q)
  return out
}
