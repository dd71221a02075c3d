/**
 * The twin of `lua/include/common.lua`: the helpers the script twins share, one
 * function per Lua helper, under the same name and in the same order of steps.
 */
import * as Keys from "../../../Keys.js"
import * as DlqChunks from "../../dlqChunks.js"
import {
  type At,
  compareMembers,
  deadline,
  given,
  hash,
  hdel,
  hget,
  hset,
  indexRange,
  keyType,
  live,
  luaNumberString,
  luaQuote,
  luaToNumber,
  type QueueState,
  type ZEntry,
  zfirst,
  zsorted
} from "../keyspace.js"

/** What a script twin sees: its queue's keys at one `now`, the settings it gets as ARGV, and PUBLISH. */
export interface Ctx extends At {
  readonly env: Env
}

export interface Env {
  /** uniqueLockTtlMs */
  readonly lockTtl: number
  /** dlqTtlMs */
  readonly dlqTtl: number
  /** idempotencyTtlMs */
  readonly idempotencyTtl: number
  /** PUBLISH wake: work in the queue is due in `dueInMs` (default 0: now). */
  readonly wake: (q: QueueState, dueInMs?: number) => void
  /** PUBLISH done: the job reached a terminal state. */
  readonly done: (q: QueueState, id: string) => void
}

export type TerminalStatus = "COMPLETED" | "FAILED" | "CANCELLED"

export const isTerminalStatus = (status: string | undefined): status is TerminalStatus =>
  status === "COMPLETED" || status === "FAILED" || status === "CANCELLED"

/** `increment`: adds 1 to a counter field; a field that is not a number counts as 0. */
export const increment = (c: At, id: string, field: string): number => {
  const value = (luaToNumber(hget(c, id, field)) ?? 0) + 1
  hset(c, id, { [field]: luaNumberString(value) })
  return value
}

/** `expireOrPersist`: PEXPIRE when ttl > 0, else PERSIST. */
export const expireOrPersist = (c: At, id: string, ttl: number): void => {
  const stored = live(c.q.records, id, c.now)
  if (stored !== undefined) stored.expiresAt = deadline(c.now, ttl)
}

/** `lockLife`: a lock lasts until its holder's run-at plus the backstop TTL. */
const lockLife = (c: Ctx, runAt: number) => c.env.lockTtl + Math.max(0, runAt - c.now)

/**
 * `acquireUnique`: takes the lock for a job due at runAt, or parks the job in the key's
 * waiting set. True when it may go to pending.
 */
export const acquireUnique = (c: Ctx, uniqueKey: string, id: string, runAt: number): boolean => {
  const holder = live(c.q.uniqueLocks, uniqueKey, c.now)
  if (holder?.value === id) {
    holder.expiresAt = deadline(c.now, lockLife(c, runAt))
    return true
  }
  if (holder === undefined) {
    c.q.uniqueLocks.set(uniqueKey, { value: id, expiresAt: deadline(c.now, lockLife(c, runAt)) })
    return true
  }
  let waiting = c.q.uniqueWaiting.get(uniqueKey)
  if (waiting === undefined) c.q.uniqueWaiting.set(uniqueKey, (waiting = new Map()))
  waiting.set(id, c.now)
  return false
}

/** `releaseUnique`: hands the key to the first job still waiting (runnable now), or frees it. */
export const releaseUnique = (c: Ctx, id: string): void => {
  const uniqueKey = hget(c, id, "uniqueKey")
  if (uniqueKey === undefined) return
  const holder = live(c.q.uniqueLocks, uniqueKey, c.now)
  if (holder !== undefined && holder.value !== id) return
  const waiting = c.q.uniqueWaiting.get(uniqueKey)
  for (;;) {
    const next = waiting === undefined ? undefined : zfirst(waiting)
    if (waiting === undefined || next === undefined) {
      c.q.uniqueLocks.delete(uniqueKey)
      c.q.uniqueWaiting.delete(uniqueKey)
      return
    }
    const [nextId] = next
    waiting.delete(nextId)
    if (waiting.size === 0) c.q.uniqueWaiting.delete(uniqueKey)
    // skips jobs cancelled or gone while waiting
    const fields = hash(c, nextId)
    if (fields?.get("status") === "PENDING") {
      const wanted = luaToNumber(fields.get("nextRunAt"))
      const runAt = wanted === undefined || Number.isNaN(wanted) || wanted < c.now ? c.now : wanted
      c.q.uniqueLocks.set(uniqueKey, { value: nextId, expiresAt: deadline(c.now, lockLife(c, runAt)) })
      hset(c, nextId, { nextRunAt: runAt })
      c.q.pending.set(nextId, runAt)
      c.env.wake(c.q, runAt - c.now)
      return
    }
  }
}

/** `refreshUnique`: keeps a job's unique lock (if it holds one) alive until runAt plus the backstop. */
export const refreshUnique = (c: Ctx, id: string, runAt: number): void => {
  const uniqueKey = hget(c, id, "uniqueKey")
  if (uniqueKey === undefined) return
  const holder = live(c.q.uniqueLocks, uniqueKey, c.now)
  if (holder?.value === id) holder.expiresAt = deadline(c.now, lockLife(c, runAt))
}

/**
 * `deadLetter`: FAILED into the DLQ; the record expires after dlqTtlMs. Unlike the Lua
 * helper it also publishes `done` (each script publishes it right after).
 */
export const deadLetter = (c: Ctx, id: string, error: string): void => {
  hset(c, id, { status: "FAILED", completedAt: c.now, lastError: error })
  hdel(c, id, "leaseToken")
  c.q.dlq.set(id, c.now)
  c.q.failedTotal += 1
  releaseUnique(c, id)
  expireOrPersist(c, id, c.env.dlqTtl)
  c.env.done(c.q, id)
}

const numericFields = new Set(["currentRetries", "maxRetries", "enqueuedAt", "stalls"])

/**
 * `quarantine`: a record that cannot be run goes to the DLQ with a clear reason.
 * A key of another type is moved aside to `corrupt:<id>`; missing or
 * non-numeric fields get placeholders so the record can be read.
 */
export const quarantine = (c: Ctx, id: string, reason: string): void => {
  const stored = live(c.q.records, id, c.now)
  if (stored !== undefined && stored.type !== "hash") {
    // RENAME keeps the key's TTL
    c.q.corrupt.set(id, stored)
    c.q.records.delete(id)
    reason += ` (the record was a ${stored.type}, kept at ${c.q.prefix}${Keys.suffix.corrupt}${id})`
  }
  const placeholders: ReadonlyArray<readonly [string, string]> = [
    ["id", id],
    ["queue", c.q.name],
    ["functionName", "(unknown)"],
    ["params", "null"],
    ["currentRetries", "0"],
    ["maxRetries", "0"],
    ["enqueuedAt", String(c.now)],
    ["stalls", "0"]
  ]
  for (const [field, placeholder] of placeholders) {
    const value = hget(c, id, field)
    if (value === undefined || (numericFields.has(field) && luaToNumber(value) === undefined)) {
      if (value !== undefined) reason += `; ${field} was ${luaQuote(value)}`
      hset(c, id, { [field]: placeholder })
    }
  }
  c.q.pending.delete(id)
  c.q.active.delete(id)
  deadLetter(c, id, reason)
}

/** A chunk of a DLQ scan: the ids to act on, the entries passed (for the next cursor), and whether the scan is over. */
export interface DlqScan {
  readonly ids: Array<string>
  readonly seen: Array<ZEntry>
  readonly horizon: number
  readonly cursor: DlqChunks.Cursor
  done: boolean
}

/** `dlqChunk`: the given ids, or the next DLQ entries after the cursor, failed at or before the horizon. */
export const dlqChunk = (c: At, call: DlqChunks.Call): DlqScan => {
  const chunk = DlqChunks.DLQ_CHUNK
  const horizon = given(call.cursor.horizon) === undefined ? c.now : Number(call.cursor.horizon)
  const scan: DlqScan = { ids: [], seen: [], horizon, cursor: call.cursor, done: true }
  if (call.ids.length > 0) {
    scan.ids.push(...call.ids)
    return scan
  }
  // ZRANK / ZCOUNT / ZRANGE on the sorted entries
  const sorted = zsorted(c.q.dlq)
  const { id: cursor, score: cursorScore } = call.cursor
  let start = 0
  let tie: number | undefined
  if (cursor !== "") {
    const rank = sorted.findIndex(([id]) => id === cursor)
    if (rank >= 0 && sorted[rank]![1] === Number(cursorScore)) {
      start = rank + 1
    } else {
      // the cursor left the DLQ meanwhile: resume at its score, passing the entries of that score before it
      tie = Number(cursorScore)
      start = sorted.filter(([, score]) => score < tie!).length
    }
  }
  const entries = indexRange(sorted, start, start + chunk - 1)
  scan.done = entries.length < chunk
  for (const entry of entries) {
    const [id, score] = entry
    if (score > horizon) {
      scan.done = true
      break
    }
    scan.seen.push(entry)
    if (!(tie !== undefined && score === tie && compareMembers(id, cursor) < 0)) scan.ids.push(id)
  }
  return scan
}

/** `dlqReply`: the next cursor is the last entry seen still in the DLQ, else the one given. */
export const dlqReply = <A>(c: At, scan: DlqScan, items: ReadonlyArray<A>): DlqChunks.Chunk<A> => {
  let cursor = scan.cursor
  for (let i = scan.seen.length - 1; i >= 0; i--) {
    const [id, score] = scan.seen[i]!
    if (c.q.dlq.has(id)) {
      cursor = { ...cursor, id, score: luaNumberString(score) }
      break
    }
  }
  return { items, next: scan.done ? undefined : { ...cursor, horizon: String(scan.horizon) } }
}

/** `dlqEach`: calls visit for each id of the chunk still in the DLQ until `limit` (0: no limit) were reported. */
export const dlqEach = (c: At, scan: DlqScan, limit: number, visit: (id: string) => boolean): Array<string> => {
  const out: Array<string> = []
  for (const id of scan.ids) {
    if (limit > 0 && out.length >= limit) break
    if (c.q.dlq.has(id) && visit(id)) out.push(id)
  }
  return out
}

export type DlqRecord = "match" | "other" | "gone"

/** `dlqRecord`: what a requeue or purge with filter fn ("" for any) makes of a record. */
export const dlqRecord = (c: At, id: string, fn: string): DlqRecord =>
  keyType(c, id) !== "hash"
    ? "gone"
    : fn === "" || hget(c, id, "functionName") === fn
    ? "match"
    : "other"

/** `dlqReports`: whether a requeue or purge reports an entry. */
export const dlqReports = (action: "requeue" | "purge", record: DlqRecord, fn: string): boolean =>
  record === "match" || (action === "purge" && fn === "" && record === "gone")

/** `backToPending`: back to pending without counting an attempt, keeping its place (its run-at, never later than now). */
export const backToPending = (c: At, id: string): void => {
  const retries = luaToNumber(hget(c, id, "currentRetries")) ?? 0
  const runAt = Math.min(c.now, luaToNumber(hget(c, id, "nextRunAt")) ?? c.now)
  hset(c, id, { status: retries > 0 ? "RETRYING" : "PENDING", nextRunAt: runAt })
  hdel(c, id, "leaseToken")
  c.q.pending.set(id, runAt)
}

/** `holdsLease`: true when the caller still holds the job's lease. */
export const holdsLease = (c: At, id: string, token: string): boolean => {
  const h = hash(c, id)
  return h?.get("status") === "ACTIVE" && h.get("leaseToken") === token
}
