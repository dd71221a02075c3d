/** The twin of `lua/fail.lua`: counts a failed attempt and moves the job to the DLQ at once. */
import type { FailOutcome, Lease } from "../../../JobStore.js"
import { type Ctx, deadLetter, holdsLease, increment } from "./common.js"

export const fail = (c: Ctx, { id, token }: Lease, error: string): FailOutcome => {
  if (!holdsLease(c, id, token)) return "lost"
  c.q.active.delete(id)
  increment(c, id, "currentRetries")
  deadLetter(c, id, error)
  return "FAILED"
}
