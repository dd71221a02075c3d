/** The twin of `lua/dlq-purge.lua`, one chunk: deletes the records (and any kept corrupt key) with their entries. */
import type * as DlqChunks from "../../dlqChunks.js"
import { type Ctx, dlqChunk, dlqEach, dlqRecord, dlqReply, dlqReports } from "./common.js"

export const dlqPurge = (c: Ctx, call: DlqChunks.Call, fn: string): DlqChunks.Chunk<string> => {
  const scan = dlqChunk(c, call)
  const out = dlqEach(c, scan, call.limit, (id) => {
    if (!dlqReports("purge", dlqRecord(c, id, fn), fn)) return false
    c.q.dlq.delete(id)
    c.q.records.delete(id)
    c.q.corrupt.delete(id)
    return true
  })
  return dlqReply(c, scan, out)
}
