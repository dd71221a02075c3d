/**
 * The twin of `lua/stalled.lua`, answered exactly (there is no lease index to keep):
 * the queues, of those given, with a lease deadline at or before now.
 */
import type { QueueState } from "../keyspace.js"

export const stalled = (queues: ReadonlyArray<QueueState>, now: number): Array<string> =>
  queues.filter((q) => {
    for (const deadline of q.active.values()) if (deadline <= now) return true
    return false
  }).map((q) => q.name)
