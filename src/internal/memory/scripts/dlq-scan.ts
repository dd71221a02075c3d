/**
 * The twin of `lua/dlq-scan.lua`, one chunk, changing nothing: in mode requeue or purge
 * the ids those would report; in mode count (function name, count) pairs of the chunk's hash records.
 */
import type * as DlqChunks from "../../dlqChunks.js"
import { hget, keyType } from "../keyspace.js"
import { type Ctx, dlqChunk, dlqEach, dlqRecord, dlqReply, dlqReports } from "./common.js"

/** Modes requeue and purge: the ids those would report. */
export const dlqScan = (c: Ctx, call: DlqChunks.Call, mode: "requeue" | "purge", fn: string): DlqChunks.Chunk<string> => {
  const scan = dlqChunk(c, call)
  return dlqReply(c, scan, dlqEach(c, scan, call.limit, (id) => dlqReports(mode, dlqRecord(c, id, fn), fn)))
}

/** Mode count: (function name, count) pairs of the chunk's hash records. */
export const dlqCount = (c: Ctx, call: DlqChunks.Call): DlqChunks.Chunk<string | number> => {
  const scan = dlqChunk(c, call)
  const counts = new Map<string, number>()
  dlqEach(c, scan, 0, (id) => {
    const name = keyType(c, id) === "hash" ? hget(c, id, "functionName") : undefined
    if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1)
    return false
  })
  return dlqReply(c, scan, [...counts].flat())
}
