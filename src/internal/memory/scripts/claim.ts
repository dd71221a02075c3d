/**
 * The twin of `lua/claim.lua`: moves up to `count` ready jobs from pending to active,
 * each with a fresh lease token. Records that are missing or unreadable are
 * quarantined into the DLQ, never dropped. A paused queue hands out nothing and says nothing is due.
 */
import type { ClaimedJob, ClaimResult } from "../../../JobStore.js"
import { given, hash, hset, keyType, luaToNumber, zfirst, zrangeByScore } from "../keyspace.js"
import { type Ctx, isTerminalStatus, quarantine } from "./common.js"

export interface ClaimArgs {
  /** At most 1,000, as claim.lua caps it. */
  readonly count: number
  readonly leaseMs: number
  readonly workerId: string
  /** Job i of the call gets the token `<tokenBase>-<i>` (1-based). */
  readonly tokenBase: string
}

export const claim = (c: Ctx, { count, leaseMs, tokenBase, workerId }: ClaimArgs): ClaimResult => {
  const jobs: Array<ClaimedJob> = []
  if (c.q.paused) return { jobs, nextRunAt: undefined, now: c.now }
  for (const [index, [id, runAt]] of zrangeByScore(c.q.pending, c.now, Math.min(count, 1_000)).entries()) {
    c.q.pending.delete(id)
    const kind = keyType(c, id)
    if (kind === "none") {
      quarantine(c, id, "Job record missing: a pending entry had no record")
      continue
    }
    if (kind !== "hash") {
      quarantine(c, id, "Corrupted job record")
      continue
    }
    const f = hash(c, id)!
    const functionName = f.get("functionName")
    const params = f.get("params")
    const currentRetries = f.get("currentRetries")
    const maxRetries = f.get("maxRetries")
    const enqueuedAt = f.get("enqueuedAt")
    // a stale pending entry of a finished job: nothing to run
    if (isTerminalStatus(f.get("status"))) continue
    if (
      functionName === undefined || params === undefined || luaToNumber(currentRetries) === undefined ||
      luaToNumber(maxRetries) === undefined || luaToNumber(enqueuedAt) === undefined
    ) {
      quarantine(c, id, "Corrupted job record: missing or invalid fields")
      continue
    }
    const timeoutMs = given(f.get("timeoutMs"))
    const traceContext = given(f.get("traceContext"))
    const leaseToken = `${tokenBase}-${index + 1}`
    hset(c, id, { status: "ACTIVE", workerId, startedAt: c.now, leaseToken })
    c.q.active.set(id, c.now + leaseMs)
    // the Redis store reads the script's strings back with Number()
    jobs.push({
      queue: c.q.name,
      id,
      functionName,
      params,
      currentRetries: Number(currentRetries),
      maxRetries: Number(maxRetries),
      timeoutMs: timeoutMs !== undefined && Number(timeoutMs) > 0 && Number.isFinite(Number(timeoutMs))
        ? Number(timeoutMs)
        : undefined,
      enqueuedAt: Number(enqueuedAt),
      leaseToken,
      traceContext,
      dueAt: runAt
    })
  }
  // a Lua number reply is truncated to an integer
  const first = zfirst(c.q.pending)
  return { jobs, nextRunAt: first === undefined ? undefined : Math.trunc(first[1]), now: c.now }
}
