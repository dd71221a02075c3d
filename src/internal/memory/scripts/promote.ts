/** The twin of `lua/promote.lua`: deferred or backing-off jobs run now (one by id, or up to `limit` of the queue's, earliest first). */
import { hset, keyType, zrangeByScore } from "../keyspace.js"
import type { Ctx } from "./common.js"

export const promote = (c: Ctx, id: string | undefined, limit: number): ReadonlyArray<string> => {
  const later = zrangeByScore(c.q.pending, Infinity, -1).filter(([, runAt]) => runAt > c.now).map(([jobId]) => jobId)
  const ids = id === undefined ? later.slice(0, limit) : later.includes(id) ? [id] : []
  for (const jobId of ids) {
    c.q.pending.set(jobId, c.now)
    // a pending entry without its record is left to claim, which quarantines it
    if (keyType(c, jobId) !== "none") hset(c, jobId, { nextRunAt: c.now })
  }
  if (ids.length > 0) c.env.wake(c.q)
  return ids
}
