/** The twin of `lua/dlq-requeue.lua`, one chunk: back to pending with retries, stalls, status and expiry reset. */
import type * as DlqChunks from "../../dlqChunks.js"
import { hdel, hget, hset } from "../keyspace.js"
import { acquireUnique, type Ctx, dlqChunk, dlqEach, dlqRecord, dlqReply, expireOrPersist } from "./common.js"

export const dlqRequeue = (c: Ctx, call: DlqChunks.Call, fn: string): DlqChunks.Chunk<string> => {
  const scan = dlqChunk(c, call)
  const out = dlqEach(c, scan, call.limit, (id) => {
    const record = dlqRecord(c, id, fn)
    if (record !== "match") {
      // the record expired (or is unreadable): drop the dangling entry
      if (record === "gone") c.q.dlq.delete(id)
      return false
    }
    c.q.dlq.delete(id)
    hset(c, id, { status: "PENDING", currentRetries: 0, stalls: 0, nextRunAt: c.now })
    hdel(c, id, "completedAt", "startedAt", "result", "leaseToken", "workerId")
    expireOrPersist(c, id, 0)
    const unique = hget(c, id, "uniqueKey")
    if (unique === undefined || acquireUnique(c, unique, id, c.now)) c.q.pending.set(id, c.now)
    return true
  })
  if (out.length > 0) c.env.wake(c.q)
  return dlqReply(c, scan, out)
}
