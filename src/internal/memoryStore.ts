/**
 * The in-memory JobStore (`layerMemory`): the transitions of `lua/*.lua` on
 * plain Maps, timed by Effect's `Clock` so tests can drive it with TestClock.
 *
 * The state is modelled on the Redis keyspace (hashes of strings, sorted sets,
 * string keys with TTLs) so every method can follow its script line by line.
 * Each transition runs in one synchronous step, with no yield between reading
 * and writing, which makes it atomic the way a Lua script is. As in Redis, a
 * command error in the middle of a script (WRONGTYPE) keeps the writes made
 * so far and fails with `JobStoreError`.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import { CorruptedJob, DuplicateJob, JobNotFound, JobStoreError } from "../Errors.js"
import { decodeRecord, JobRef, validateNewJob } from "../Job.js"
import type { Job, NewJob } from "../Job.js"
import type {
  CancelOutcome,
  ClaimedJob,
  ClaimOptions,
  ClaimResult,
  Completion,
  DlqFilter,
  EnqueueOutcome,
  JobState,
  FailOutcome,
  JobStoreShape,
  Lease,
  QueueStats,
  RecoverOutcome,
  RetryOutcome,
  WorkerInfo
} from "../JobStore.js"
import * as Keys from "../Keys.js"
import { RrqSettings } from "../Settings.js"
import * as DlqChunks from "./dlqChunks.js"

/** The store plus hooks for the contract suite to simulate corrupted data. */
export interface MemoryStore extends JobStoreShape {
  /** Replaces a job's record: a field map, a key of the wrong type (like a Redis string), or nothing. */
  readonly unsafeSetRecord: (
    queue: string,
    id: string,
    record: Record<string, string> | "not-a-hash" | undefined
  ) => Effect.Effect<void>
  /** Adds a raw pending entry, whether or not a record exists. */
  readonly unsafeAddPending: (queue: string, id: string, runAt: number) => Effect.Effect<void>
}

// ---------------------------------------------------------------------------
// A tiny model of the Redis keyspace of one queue

type StoredKey =
  | { readonly type: "hash"; readonly fields: Map<string, string>; expiresAt: number | undefined }
  | { readonly type: "string"; readonly value: string; expiresAt: number | undefined }

/** A string key with an optional expiry (unique locks, idempotency keys). */
interface Timed {
  readonly value: string
  expiresAt: number | undefined
}

/** A sorted set: member → score. Ordered on read, like ZRANGE. */
type ZSet = Map<string, number>

interface QueueState {
  readonly name: string
  /** `rrq:{q}:`, only used in messages (the quarantine reason names the kept key). */
  readonly prefix: string
  /** `job:<id>` keys. */
  readonly records: Map<string, StoredKey>
  /** `corrupt:<id>`: unreadable records moved aside by quarantine. */
  readonly corrupt: Map<string, StoredKey>
  readonly pending: ZSet
  readonly active: ZSet
  readonly dlq: ZSet
  /** `unique:<key>` → holder id. */
  readonly uniqueLocks: Map<string, Timed>
  /** `unique-waiting:<key>` → ids by enqueue time. */
  readonly uniqueWaiting: Map<string, ZSet>
  /** `idem:<key>` → id. */
  readonly idempotency: Map<string, Timed>
  completedTotal: number
  failedTotal: number
}

/** What one transition sees: the queue's keyspace and the script's single `now`. */
interface Ctx {
  readonly q: QueueState
  readonly now: number
}

/** A Redis command error inside a script; becomes `JobStoreError`. */
class ScriptError extends Error {}

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

// A key lives `ttl` ms: gone once the clock reaches its deadline (TestClock-friendly).
const isExpired = (entry: { readonly expiresAt: number | undefined }, now: number) =>
  entry.expiresAt !== undefined && entry.expiresAt <= now

/** Reads a key, purging it first when it has expired (Redis' lazy expiry). */
const live = <V extends { readonly expiresAt: number | undefined }>(
  map: Map<string, V>,
  key: string,
  now: number
): V | undefined => {
  const entry = map.get(key)
  if (entry !== undefined && isExpired(entry, now)) {
    map.delete(key)
    return undefined
  }
  return entry
}

/** PEXPIRE ttl, or no expiry for 0 (`expireOrPersist`; also used for lock and idempotency TTLs). */
const deadline = (now: number, ttl: number): number | undefined => (ttl > 0 ? now + ttl : undefined)

/** Redis orders members with equal scores bytewise (memcmp of UTF-8), not by UTF-16 code units. */
const compareMembers = (a: string, b: string): number => {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  if (i === n) return a.length - b.length
  // UTF-8 order is code point order: surrogates (D800–DFFF) sort above E000–FFFF
  const fix = (c: number) => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c)
  return fix(a.charCodeAt(i)) - fix(b.charCodeAt(i))
}

type ZEntry = readonly [member: string, score: number]

const byScore = (a: ZEntry, b: ZEntry): number => a[1] - b[1] || compareMembers(a[0], b[0])

/** ZRANGEBYSCORE key -inf max LIMIT 0 count (a negative count means no limit). */
const zrangeByScore = (z: ZSet, max: number, count: number): Array<ZEntry> => {
  const hits = [...z].filter(([, score]) => score <= max).sort(byScore)
  return count < 0 ? hits : hits.slice(0, count)
}

/** ZRANGE key 0 0 WITHSCORES. */
const zfirst = (z: ZSet): ZEntry | undefined => {
  let best: ZEntry | undefined
  for (const entry of z) if (best === undefined || byScore(entry, best) < 0) best = entry
  return best
}

/** Index ranges as ZRANGE/ZREVRANGE read them: negative indexes count from the end. */
const indexRange = <A>(xs: ReadonlyArray<A>, start: number, stop: number): Array<A> => {
  const n = xs.length
  let s = start < 0 ? n + start : start
  const e = Math.min(stop < 0 ? n + stop : stop, n - 1)
  if (s < 0) s = 0
  return s > e || s >= n ? [] : xs.slice(s, e + 1)
}

/**
 * Lua's `tonumber` on a stored field, `undefined` for nil or text that is not a
 * number. Close enough to strtod for what rrq writes and for rejecting garbage.
 */
const luaToNumber = (s: string | undefined): number | undefined => {
  const t = s?.trim()
  if (t === undefined || t === "") return undefined
  const n = Number(t)
  return Number.isNaN(n) ? undefined : n
}

/** A Lua number written with HSET, as Redis formats it (`%.17g`: inf, -inf, nan). */
const luaNumberString = (n: number): string =>
  Number.isNaN(n) ? "nan" : n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n)

/** Lua's `string.format('%q', s)`, used in the quarantine reason. */
const luaQuote = (s: string): string =>
  `"${s.replace(/["\\\n\r\0]/g, (c) => (c === "\r" ? "\\r" : c === "\0" ? "\\000" : `\\${c}`))}"`

/** Arguments reach the scripts as strings, so an empty string means "not given". */
const given = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

type TerminalStatus = "COMPLETED" | "FAILED" | "CANCELLED"
const isTerminalStatus = (status: string | undefined): status is TerminalStatus =>
  status === "COMPLETED" || status === "FAILED" || status === "CANCELLED"

// --- Redis commands on a job record (`job:<id>`) ---

/** TYPE */
const keyType = (c: Ctx, id: string): "none" | StoredKey["type"] => live(c.q.records, id, c.now)?.type ?? "none"

/** The fields of a hash record; WRONGTYPE when the key holds something else (HGET, HMGET...). */
const hash = (c: Ctx, id: string): Map<string, string> | undefined => {
  const stored = live(c.q.records, id, c.now)
  if (stored === undefined) return undefined
  if (stored.type !== "hash") throw new ScriptError(WRONGTYPE)
  return stored.fields
}

const hget = (c: Ctx, id: string, field: string): string | undefined => hash(c, id)?.get(field)

/** HSET, creating the hash (without expiry) when absent. Numbers are written as decimal strings. */
const hset = (c: Ctx, id: string, fields: Readonly<Record<string, string | number>>): void => {
  let h = hash(c, id)
  if (h === undefined) {
    h = new Map()
    c.q.records.set(id, { type: "hash", fields: h, expiresAt: undefined })
  }
  for (const [field, value] of Object.entries(fields)) h.set(field, String(value))
}

/** HDEL; like Redis, a hash left empty disappears. */
const hdel = (c: Ctx, id: string, ...fields: ReadonlyArray<string>): void => {
  const h = hash(c, id)
  if (h === undefined) return
  for (const field of fields) h.delete(field)
  if (h.size === 0) c.q.records.delete(id)
}

/**
 * `increment` of common.lua: a field that is not a number counts as 0. A finite
 * value is written as `String` would (Redis' `%.17g` text may differ in its last
 * digits but reads back as the same number); inf and nan keep Lua's spelling.
 */
const increment = (c: Ctx, id: string, field: string): number => {
  const value = (luaToNumber(hget(c, id, field)) ?? 0) + 1
  hset(c, id, { [field]: luaNumberString(value) })
  return value
}

/** `expireOrPersist`: PEXPIRE when ttl > 0, else PERSIST. */
const expireOrPersist = (c: Ctx, id: string, ttl: number): void => {
  const stored = live(c.q.records, id, c.now)
  if (stored !== undefined) stored.expiresAt = deadline(c.now, ttl)
}

/** `holdsLease`: true when the caller still holds the job's lease. */
const holdsLease = (c: Ctx, id: string, token: string): boolean => {
  const h = hash(c, id)
  return h?.get("status") === "ACTIVE" && h.get("leaseToken") === token
}

const emptyStats = (queue: string): QueueStats => ({
  queue,
  ready: 0,
  delayed: 0,
  active: 0,
  dlq: 0,
  completedTotal: 0,
  failedTotal: 0
})

const MAX_INT64 = 2n ** 63n - 1n

export const make: Effect.Effect<MemoryStore, never, RrqSettings> = Effect.gen(function*() {
  const settings = yield* RrqSettings
  const keys = Keys.make(settings.keyPrefix)
  const lockTtl = settings.uniqueLockTtlMs
  const dlqTtl = settings.dlqTtlMs

  // The single mutable state: every queue's keyspace, the `rrq:queues` set,
  // the listeners of each queue's `done` channel by job id and of its `cancel`
  // channel, and the worker heartbeats (`worker:<id>` string keys with a TTL).
  const state = {
    queues: new Map<string, QueueState>(),
    known: new Set<string>(),
    finished: new Map<string, Map<string, Set<Deferred.Deferred<void>>>>(),
    cancelListeners: new Map<string, Set<(id: string) => void>>(),
    // the `wake` channel's listeners, by queue: each hears how long until the work is due
    wakeListeners: new Map<string, Set<(dueInMs: number) => void>>(),
    heartbeats: new Map<string, Timed>(),
    tokenSeq: 0
  }

  const queueState = (name: string): QueueState => {
    let q = state.queues.get(name)
    if (q === undefined) {
      q = {
        name,
        prefix: keys.queue(name).prefix,
        records: new Map(),
        corrupt: new Map(),
        pending: new Map(),
        active: new Map(),
        dlq: new Map(),
        uniqueLocks: new Map(),
        uniqueWaiting: new Map(),
        idempotency: new Map(),
        completedTotal: 0,
        failedTotal: 0
      }
      state.queues.set(name, q)
    }
    return q
  }

  /**
   * Runs one script body atomically at a single `now`. A `ScriptError` becomes
   * `JobStoreError` (writes made before it stay, as in Redis); any other throw is a defect.
   */
  const atomically = <A>(name: string, body: (now: number) => A): Effect.Effect<A, JobStoreError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        try {
          return Effect.succeed(body(now))
        } catch (e) {
          if (e instanceof ScriptError) {
            return Effect.fail(new JobStoreError({ message: `Script ${name} failed: ${e.message}`, cause: e }))
          }
          throw e
        }
      }))

  /** A script on one queue's keys. */
  const script = <A>(name: string, queue: string, body: (c: Ctx) => A): Effect.Effect<A, JobStoreError> =>
    atomically(name, (now) => body({ q: queueState(queue), now }))

  // --- pub/sub stand-ins ---

  /** A pub/sub message: every listener hears it (a throwing one does not stop the rest). */
  const publish = <A>(listeners: Set<(message: A) => void> | undefined, message: A): void => {
    if (listeners === undefined) return
    for (const listener of [...listeners]) {
      try {
        listener(message)
      } catch {
        // a subscriber's failure is its own, as with a pub/sub message handler
      }
    }
  }

  /** PUBLISH wake: work in the queue is due in `dueInMs` (the message `<run-at> <now>`). */
  const signalWork = (q: QueueState, dueInMs = 0): void =>
    publish(state.wakeListeners.get(q.name), Math.max(0, dueInMs))

  /** PUBLISH done: the job reached a terminal state. Waiters are one-shot. */
  const signalFinished = (q: QueueState, id: string): void => {
    const byId = state.finished.get(q.name)
    const waiters = byId?.get(id)
    if (byId === undefined || waiters === undefined) return
    byId.delete(id)
    for (const waiter of waiters) Deferred.unsafeDone(waiter, Exit.void)
  }

  /** A message on a queue's `cancel` channel. */
  const publishCancel = (queue: string, id: string): void => publish(state.cancelListeners.get(queue), id)

  // --- the helpers of lua/include/common.lua ---

  /** `lockLife`: a lock lasts until its holder's run-at plus the backstop TTL. */
  const lockLife = (now: number, runAt: number) => lockTtl + Math.max(0, runAt - now)

  /** `acquireUnique`: takes the lock for a job due at runAt, or parks the job in the key's waiting set. True when it may go to pending. */
  const acquireUnique = (c: Ctx, uniqueKey: string, id: string, runAt: number): boolean => {
    const holder = live(c.q.uniqueLocks, uniqueKey, c.now)
    if (holder?.value === id) {
      holder.expiresAt = deadline(c.now, lockLife(c.now, runAt))
      return true
    }
    if (holder === undefined) {
      c.q.uniqueLocks.set(uniqueKey, { value: id, expiresAt: deadline(c.now, lockLife(c.now, runAt)) })
      return true
    }
    let waiting = c.q.uniqueWaiting.get(uniqueKey)
    if (waiting === undefined) c.q.uniqueWaiting.set(uniqueKey, (waiting = new Map()))
    waiting.set(id, c.now)
    return false
  }

  /** `refreshUnique`: keeps a job's unique lock (if it holds one) alive until runAt plus the backstop. */
  const refreshUnique = (c: Ctx, id: string, runAt: number): void => {
    const uniqueKey = hget(c, id, "uniqueKey")
    if (uniqueKey === undefined) return
    const holder = live(c.q.uniqueLocks, uniqueKey, c.now)
    if (holder?.value === id) holder.expiresAt = deadline(c.now, lockLife(c.now, runAt))
  }

  /** `releaseUnique`: hands the key to the first job still waiting (runnable now), or frees it. */
  const releaseUnique = (c: Ctx, id: string): void => {
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
        c.q.uniqueLocks.set(uniqueKey, { value: nextId, expiresAt: deadline(c.now, lockLife(c.now, runAt)) })
        hset(c, nextId, { nextRunAt: runAt })
        c.q.pending.set(nextId, runAt)
        signalWork(c.q, runAt - c.now)
        return
      }
    }
  }

  /** `deadLetter`: FAILED into the DLQ; the record expires after dlqTtlMs. */
  const deadLetter = (c: Ctx, id: string, error: string): void => {
    hset(c, id, { status: "FAILED", completedAt: c.now, lastError: error })
    hdel(c, id, "leaseToken")
    c.q.dlq.set(id, c.now)
    c.q.failedTotal += 1
    releaseUnique(c, id)
    expireOrPersist(c, id, dlqTtl)
    signalFinished(c.q, id)
  }

  const numericFields = new Set(["currentRetries", "maxRetries", "enqueuedAt", "stalls"])

  /**
   * `quarantine`: a record that cannot be run goes to the DLQ with a clear reason.
   * A key of another type is moved aside to `corrupt:<id>`; missing or
   * non-numeric fields get placeholders so the record can be read.
   */
  const quarantine = (c: Ctx, id: string, reason: string): void => {
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

  /** Back to pending now, without counting an attempt (requeue.lua and recover.lua). */
  /** `backToPending`: keeps the job's place (its run-at, never later than now). */
  const backToPending = (c: Ctx, id: string): void => {
    const retries = luaToNumber(hget(c, id, "currentRetries")) ?? 0
    const runAt = Math.min(c.now, luaToNumber(hget(c, id, "nextRunAt")) ?? c.now)
    hset(c, id, { status: retries > 0 ? "RETRYING" : "PENDING", nextRunAt: runAt })
    hdel(c, id, "leaseToken")
    c.q.pending.set(id, runAt)
  }

  // --- transitions ---

  /**
   * enqueue.lua, one queue after another. The duplicate check runs for every
   * queue of the call before anything is written, and also rejects an id
   * given twice in the call (the script would silently overwrite the first).
   */
  const enqueue = Effect.fn("MemoryStore.enqueue")(function*(jobs: ReadonlyArray<NewJob>) {
    for (const job of jobs) {
      const invalid = validateNewJob(job, settings.maxPayloadBytes)
      if (invalid !== undefined) return yield* invalid
    }
    const groups = new Map<string, Array<number>>()
    jobs.forEach((job, i) => {
      const group = groups.get(job.queue)
      if (group === undefined) groups.set(job.queue, [i])
      else group.push(i)
    })
    const outcome = yield* atomically("enqueue", (now) => {
      const idemHolder = (q: QueueState, key: string | undefined) =>
        key === undefined ? undefined : live(q.idempotency, key, now)?.value

      // first pass: nothing is written when an id exists (unless its idempotency key answers for it)
      for (const [queue, indexes] of groups) {
        const c: Ctx = { q: queueState(queue), now }
        const created = new Set<string>()
        const claimedKeys = new Set<string>()
        for (const i of indexes) {
          const job = jobs[i]!
          const idem = given(job.idempotencyKey)
          if (idemHolder(c.q, idem) !== undefined || (idem !== undefined && claimedKeys.has(idem))) continue
          if (keyType(c, job.id) !== "none" || created.has(job.id)) return new DuplicateJob({ queue, id: job.id })
          created.add(job.id)
          if (idem !== undefined) claimedKeys.add(idem)
        }
      }

      const outcomes: Array<EnqueueOutcome> = new Array(jobs.length)
      for (const [queue, indexes] of groups) {
        state.known.add(queue)
        const c: Ctx = { q: queueState(queue), now }
        let earliest: number | undefined
        for (const i of indexes) {
          const job = jobs[i]!
          const idem = given(job.idempotencyKey)
          const existing = idemHolder(c.q, idem)
          if (existing !== undefined) {
            outcomes[i] = { _tag: "Existing", id: existing }
            continue
          }
          const runAt = job.runAt ?? now + job.delayMs
          hset(c, job.id, {
            id: job.id,
            queue,
            functionName: job.functionName,
            params: job.params,
            status: "PENDING",
            currentRetries: 0,
            maxRetries: job.maxRetries,
            resultTtlMs: job.resultTtlMs,
            enqueuedAt: now,
            nextRunAt: runAt,
            stalls: 0
          })
          if (job.timeoutMs !== undefined) hset(c, job.id, { timeoutMs: job.timeoutMs })
          const traceContext = given(job.traceContext)
          if (traceContext !== undefined) hset(c, job.id, { traceContext })
          const unique = given(job.uniqueKey)
          let runnable = true
          if (unique !== undefined) {
            hset(c, job.id, { uniqueKey: unique })
            runnable = acquireUnique(c, unique, job.id, runAt)
          }
          if (runnable) {
            c.q.pending.set(job.id, runAt)
            if (earliest === undefined || runAt < earliest) earliest = runAt
          }
          if (idem !== undefined) {
            c.q.idempotency.set(idem, { value: job.id, expiresAt: deadline(now, settings.idempotencyTtlMs) })
          }
          outcomes[i] = { _tag: "Created", id: job.id }
        }
        if (earliest !== undefined) signalWork(c.q, earliest - now)
      }
      return outcomes
    })
    if (outcome instanceof DuplicateJob) return yield* outcome
    return outcome
  })

  /** claim.lua */
  const claim = Effect.fn("MemoryStore.claim")(function*(queue: string, options: ClaimOptions) {
    const { leaseMs, workerId } = options
    const count = Math.min(options.count, 1_000) // as claim.lua caps it
    // the random part is drawn before the atomic step; the sequence makes it unique
    const random = yield* Random.nextIntBetween(0, 0x1000000)
    const tokenBase = `${workerId}-${random.toString(16).padStart(6, "0")}${(state.tokenSeq++).toString(36)}`
    return yield* script("claim", queue, (c): ClaimResult => {
      const jobs: Array<ClaimedJob> = []
      for (const [index, [id]] of zrangeByScore(c.q.pending, c.now, count).entries()) {
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
          queue,
          id,
          functionName,
          params,
          currentRetries: Number(currentRetries),
          maxRetries: Number(maxRetries),
          timeoutMs: timeoutMs !== undefined && Number(timeoutMs) > 0 && Number.isFinite(Number(timeoutMs)) ? Number(timeoutMs) : undefined,
          enqueuedAt: Number(enqueuedAt),
          leaseToken,
          traceContext
        })
      }
      // a Lua number reply is truncated to an integer
      const first = zfirst(c.q.pending)
      return { jobs, nextRunAt: first === undefined ? undefined : Math.trunc(first[1]), now: c.now }
    })
  })

  /** complete.lua */
  const complete = (queue: string, completions: ReadonlyArray<Completion>) =>
    script("complete", queue, (c) =>
      completions.map(({ id, result, token }) => {
        if (!holdsLease(c, id, token)) return false
        c.q.active.delete(id)
        hset(c, id, { status: "COMPLETED", result, completedAt: c.now })
        hdel(c, id, "leaseToken")
        c.q.completedTotal += 1
        releaseUnique(c, id)
        expireOrPersist(c, id, luaToNumber(hget(c, id, "resultTtlMs")) ?? 0)
        signalFinished(c.q, id)
        return true
      }))

  /**
   * retry.lua (the delay rounded to whole ms, as the Redis store sends it). A
   * `maxRetries` override reaches the script as text (ARGV[8]) and is read back
   * with `tonumber`; when absent the record's limit counts.
   */
  const retry = (
    queue: string,
    lease: Lease,
    options: { readonly delayMs: number; readonly error: string; readonly maxRetries?: number | undefined }
  ) =>
    script("retry", queue, (c): RetryOutcome => {
      const { id, token } = lease
      if (!holdsLease(c, id, token)) return "lost"
      c.q.active.delete(id)
      const retries = increment(c, id, "currentRetries")
      const override = options.maxRetries === undefined ? undefined : luaToNumber(String(options.maxRetries))
      const maxRetries = override ?? luaToNumber(hget(c, id, "maxRetries")) ?? 0
      if (retries >= maxRetries) {
        deadLetter(c, id, options.error)
        return "FAILED"
      }
      const runAt = c.now + Math.max(0, Math.round(options.delayMs))
      hset(c, id, { status: "RETRYING", lastError: options.error, nextRunAt: runAt })
      hdel(c, id, "leaseToken")
      c.q.pending.set(id, runAt)
      refreshUnique(c, id, runAt)
      signalWork(c.q, runAt - c.now)
      return "RETRYING"
    })

  /** fail.lua */
  const fail = (queue: string, lease: Lease, error: string) =>
    script("fail", queue, (c): FailOutcome => {
      if (!holdsLease(c, lease.id, lease.token)) return "lost"
      c.q.active.delete(lease.id)
      increment(c, lease.id, "currentRetries")
      deadLetter(c, lease.id, error)
      return "FAILED"
    })

  /** requeue.lua */
  const requeue = (queue: string, leases: ReadonlyArray<Lease>) =>
    script("requeue", queue, (c) => {
      const out = leases.map(({ id, token }) => {
        if (!holdsLease(c, id, token)) return false
        c.q.active.delete(id)
        backToPending(c, id)
        return true
      })
      if (out.includes(true)) signalWork(c.q)
      return out
    })

  /** extend.lua (ZADD XX: a job no longer in active is not added back) */
  const extend = (queue: string, leases: ReadonlyArray<Lease>, leaseMs: number) =>
    script("extend", queue, (c) =>
      leases.map(({ id, token }) => {
        if (!holdsLease(c, id, token)) return false
        if (c.q.active.has(id)) c.q.active.set(id, c.now + leaseMs)
        refreshUnique(c, id, c.now + leaseMs)
        return true
      }))

  /** stalled.lua, answered exactly: the queues with a lease deadline at or before now. */
  const stalledQueues = (names: ReadonlyArray<string>) =>
    Effect.map(Clock.currentTimeMillis, (now) =>
      names.filter((name) => {
        for (const deadline of queueState(name).active.values()) if (deadline <= now) return true
        return false
      }))

  /** recover.lua */
  const recover = (queue: string, options: { readonly maxStalls: number; readonly limit: number }) =>
    script("recover", queue, (c): RecoverOutcome => {
      const requeued: Array<string> = []
      const deadLettered: Array<string> = []
      for (const [id] of zrangeByScore(c.q.active, c.now, options.limit)) {
        c.q.active.delete(id)
        if (keyType(c, id) !== "hash") {
          quarantine(c, id, "Job record missing or unreadable: found with an expired lease")
          deadLettered.push(id)
        } else if (hget(c, id, "status") === "ACTIVE") {
          const stalls = increment(c, id, "stalls")
          const worker = hget(c, id, "workerId") ?? "?"
          if (stalls > options.maxStalls) {
            deadLetter(
              c,
              id,
              `Job lost: worker ${worker} stopped renewing its lease (${stalls} stalls, maxStalls ${options.maxStalls})`
            )
            deadLettered.push(id)
          } else {
            backToPending(c, id)
            refreshUnique(c, id, c.now)
            requeued.push(id)
          }
        }
      }
      if (requeued.length > 0) signalWork(c.q)
      return { requeued, deadLettered }
    })

  /** cancel.lua */
  const cancel = Effect.fn("MemoryStore.cancel")(function*(ref: JobRef) {
    const outcome = yield* script("cancel", ref.queue, (c): CancelOutcome | undefined => {
      const { id } = ref
      if (keyType(c, id) !== "hash") return undefined
      const status = hget(c, id, "status")
      const uniqueKey = hget(c, id, "uniqueKey")
      const resultTtlMs = hget(c, id, "resultTtlMs")
      if (isTerminalStatus(status)) return { _tag: "AlreadyFinished", status }
      const running = status === "ACTIVE"
      c.q.pending.delete(id)
      c.q.active.delete(id)
      if (uniqueKey !== undefined) {
        const waiting = c.q.uniqueWaiting.get(uniqueKey)
        waiting?.delete(id)
        if (waiting?.size === 0) c.q.uniqueWaiting.delete(uniqueKey)
      }
      hset(c, id, { status: "CANCELLED", completedAt: c.now })
      hdel(c, id, "leaseToken")
      releaseUnique(c, id)
      expireOrPersist(c, id, luaToNumber(resultTtlMs) ?? 0)
      signalFinished(c.q, id)
      return { _tag: "Cancelled", wasRunning: running }
    })
    if (outcome === undefined) return yield* new JobNotFound({ queue: ref.queue, id: ref.id })
    // PUBLISH cancel, only for a job that was running; listeners run after the script, as a message would
    if (outcome._tag === "Cancelled" && outcome.wasRunning) publishCancel(ref.queue, ref.id)
    return outcome
  })

  // --- reads (plain commands in the Redis store) ---

  /** Same reason text as the Redis store. */
  const decode = (queue: string, id: string, fields: Map<string, string>): Either.Either<Job, CorruptedJob> =>
    decodeRecord(queue, id, Object.fromEntries(fields))

  const getJob = Effect.fn("MemoryStore.getJob")(function*(ref: JobRef) {
    const now = yield* Clock.currentTimeMillis
    const stored = live(queueState(ref.queue).records, ref.id, now)
    if (stored === undefined) return Option.none<Job>()
    if (stored.type !== "hash") {
      return yield* new CorruptedJob({ queue: ref.queue, id: ref.id, reason: "the record is not a hash" })
    }
    return Option.some(yield* decode(ref.queue, ref.id, stored.fields))
  })

  /**
   * Like the Redis store: ZREVRANGE offset..offset+limit-1, then the records,
   * skipping those that expired or are not hashes (so a page may come out short).
   */
  const listJobs = Effect.fn("MemoryStore.listJobs")(function*(
    queue: string,
    state: JobState,
    options: { readonly offset: number; readonly limit: number }
  ) {
    const now = yield* Clock.currentTimeMillis
    const q = queueState(queue)
    const sorted = state === "dlq"
      ? [...q.dlq].sort((a, b) => byScore(b, a))
      : [...(state === "pending" ? q.pending : q.active)].sort(byScore)
    const jobs: Array<Job> = []
    for (const [id] of indexRange(sorted, options.offset, options.offset + options.limit - 1)) {
      const stored = live(q.records, id, now)
      if (stored?.type !== "hash") continue
      // one unreadable record must not hide the others: getJob reports it
      const job = decode(queue, id, stored.fields)
      if (Either.isRight(job)) jobs.push(job.right)
    }
    return jobs
  })

  /** `dlqChunk` of common.lua: the given ids, or the next DLQ entries after the cursor, failed at or before the horizon. */
  const dlqChunk = (c: Ctx, call: DlqChunks.Call) => {
    const horizon = given(call.cursor.horizon) === undefined ? c.now : Number(call.cursor.horizon)
    const scan = {
      ids: [] as Array<string>,
      seen: [] as Array<ZEntry>,
      horizon,
      cursor: call.cursor,
      done: true
    }
    if (call.ids.length > 0) {
      scan.ids.push(...call.ids)
      return scan
    }
    // ZRANK / ZCOUNT / ZRANGE on the sorted entries
    const sorted = [...c.q.dlq].sort(byScore)
    const { id: cursor, score: cursorScore } = call.cursor
    let start = 0
    let tie: number | undefined
    if (cursor !== "") {
      const rank = sorted.findIndex(([id]) => id === cursor)
      if (rank >= 0 && sorted[rank]![1] === Number(cursorScore)) {
        start = rank + 1
      } else {
        tie = Number(cursorScore)
        start = sorted.filter(([, score]) => score < tie!).length
      }
    }
    const entries = indexRange(sorted, start, start + DlqChunks.DLQ_CHUNK - 1)
    scan.done = entries.length < DlqChunks.DLQ_CHUNK
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
  const dlqReply = <A>(c: Ctx, scan: ReturnType<typeof dlqChunk>, items: ReadonlyArray<A>): DlqChunks.Chunk<A> => {
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

  /** `dlqRecord`: what a requeue or purge with filter fn makes of a record. */
  const dlqRecord = (c: Ctx, id: string, fn: string): "match" | "other" | "gone" =>
    keyType(c, id) !== "hash" ? "gone" : fn === "" || hget(c, id, "functionName") === fn ? "match" : "other"

  /** `dlqReports`: whether a requeue or purge reports an entry. */
  const dlqReports = (action: "requeue" | "purge", record: ReturnType<typeof dlqRecord>, fn: string) =>
    record === "match" || (action === "purge" && fn === "" && record === "gone")

  /**
   * One DLQ bulk operation, chunk by chunk (DlqChunks.loop), each chunk one script:
   * `dlqEach` calls `visit` for each id of the chunk still in the DLQ until `limit` of them
   * were reported (visit returned true); `finish` sees the reported ids.
   */
  const dlqEach = <A>(
    queue: string,
    filter: DlqFilter,
    name: string,
    visit: (c: Ctx, id: string, fn: string) => boolean,
    finish: (c: Ctx, reported: ReadonlyArray<string>) => ReadonlyArray<A>
  ) =>
    DlqChunks.loop(filter, (call) =>
      script(name, queue, (c) => {
        const fn = filter.functionName ?? ""
        const scan = dlqChunk(c, call)
        const out: Array<string> = []
        for (const id of scan.ids) {
          if (call.limit > 0 && out.length >= call.limit) break
          if (c.q.dlq.has(id) && visit(c, id, fn)) out.push(id)
        }
        return dlqReply(c, scan, finish(c, out))
      }))

  /** The ids a chunk reported, as its reply's items. */
  const reported = (_: Ctx, ids: ReadonlyArray<string>) => ids

  /** dlq-requeue.lua: back to pending with retries, stalls, status and expiry reset. */
  const dlqRequeue = (queue: string, filter: DlqFilter) =>
    dlqEach(queue, filter, "dlq-requeue", (c, id, fn) => {
      const record = dlqRecord(c, id, fn)
      // the record expired (or is unreadable): drop the dangling entry
      if (record === "gone") c.q.dlq.delete(id)
      if (record !== "match") return false
      c.q.dlq.delete(id)
      hset(c, id, { status: "PENDING", currentRetries: 0, stalls: 0, nextRunAt: c.now })
      hdel(c, id, "completedAt", "startedAt", "result", "leaseToken", "workerId")
      expireOrPersist(c, id, 0)
      const unique = hget(c, id, "uniqueKey")
      if (unique === undefined || acquireUnique(c, unique, id, c.now)) c.q.pending.set(id, c.now)
      return true
    }, (c, requeued) => {
      if (requeued.length > 0) signalWork(c.q)
      return requeued
    })

  /** dlq-purge.lua: deletes the records (and any kept corrupt key) with their entries. */
  const dlqPurge = (queue: string, filter: DlqFilter) =>
    Effect.map(
      dlqEach(queue, filter, "dlq-purge", (c, id, fn) => {
        if (!dlqReports("purge", dlqRecord(c, id, fn), fn)) return false
        c.q.dlq.delete(id)
        c.q.records.delete(id)
        c.q.corrupt.delete(id)
        return true
      }, reported),
      (ids) => ids.length
    )

  /** dlq-scan.lua, modes requeue and purge: the ids they would report, changing nothing. */
  const dlqPreview = (queue: string, filter: DlqFilter, action: "requeue" | "purge") =>
    dlqEach(queue, filter, "dlq-scan", (c, id, fn) => dlqReports(action, dlqRecord(c, id, fn), fn), reported)

  /** dlq-scan.lua, mode count: (function name, count) pairs of the hash records of each chunk. */
  const dlqByFunction = (queue: string) => {
    const counts = new Map<string, number>()
    return Effect.map(
      dlqEach(queue, {}, "dlq-scan", (c, id) => {
        const name = keyType(c, id) === "hash" ? hget(c, id, "functionName") : undefined
        if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1)
        return false
      }, (): ReadonlyArray<string | number> => {
        const pairs = [...counts].flat()
        counts.clear()
        return pairs
      }),
      DlqChunks.byFunction
    )
  }

  const stats = (queue: string) =>
    Effect.map(Clock.currentTimeMillis, (now): QueueStats => {
      const q = state.queues.get(queue)
      if (q === undefined) return emptyStats(queue)
      let ready = 0
      for (const runAt of q.pending.values()) if (runAt <= now) ready += 1
      return {
        queue,
        ready,
        delayed: q.pending.size - ready,
        active: q.active.size,
        // ZCARD: entries whose record expired still count until a requeue or purge drops them
        dlq: q.dlq.size,
        completedTotal: q.completedTotal,
        failedTotal: q.failedTotal
      }
    })

  const queues = Effect.sync(() => [...state.known].sort())

  // --- signals ---

  /** SUBSCRIBE in the scope: one listener per queue given on one of its channels (listed twice, heard twice). */
  const listen = <A>(
    channel: Map<string, Set<(message: A) => void>>,
    names: ReadonlyArray<string>,
    f: (queue: string, message: A) => void
  ) =>
    Effect.forEach(names, (queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const listener = (message: A) => f(queue, message)
          let listeners = channel.get(queue)
          if (listeners === undefined) channel.set(queue, (listeners = new Set()))
          listeners.add(listener)
          return listener
        }),
        (listener) =>
          Effect.sync(() => {
            const listeners = channel.get(queue)
            listeners?.delete(listener)
            if (listeners?.size === 0) channel.delete(queue)
          })
      ), { discard: true })

  /** Listens on each queue's `wake` channel; nothing is ever missed in memory. */
  const onWake = (names: ReadonlyArray<string>, f: (queue: string, dueInMs: number) => void) =>
    listen(state.wakeListeners, names, f)

  const finishedSignal = Effect.fn("MemoryStore.finishedSignal")(function*(ref: JobRef) {
    const waiter = yield* Deferred.make<void>()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        let byId = state.finished.get(ref.queue)
        if (byId === undefined) state.finished.set(ref.queue, (byId = new Map()))
        let waiters = byId.get(ref.id)
        if (waiters === undefined) byId.set(ref.id, (waiters = new Set()))
        waiters.add(waiter)
      }),
      () =>
        Effect.sync(() => {
          const byId = state.finished.get(ref.queue)
          const waiters = byId?.get(ref.id)
          waiters?.delete(waiter)
          if (waiters?.size === 0) byId?.delete(ref.id)
        })
    )
    return Deferred.await(waiter)
  })

  /** One listener per queue given (a queue listed twice hears each message twice, as in the Redis store). */
  const onCancel = (names: ReadonlyArray<string>, f: (ref: JobRef) => void) =>
    listen(state.cancelListeners, names, (queue, id: string) => f(new JobRef({ queue, id })))

  // --- worker heartbeats (plain commands in the Redis store) ---

  /**
   * SET worker:<id> <json> PX max(1, round(ttlMs)). The PX reaches Redis as text:
   * it must be a 64-bit integer, and now + PX must not overflow.
   */
  const heartbeat = (info: WorkerInfo, ttlMs: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<void, JobStoreError> => {
      let value: string
      try {
        // the Redis store serializes inside its command call, so a failure is a JobStoreError there too
        value = JSON.stringify(info)
      } catch (e) {
        return new JobStoreError({ message: `Redis command failed: ${e instanceof Error ? e.message : String(e)}`, cause: e })
      }
      const px = Math.max(1, Math.round(ttlMs))
      const text = String(px)
      const invalid = !/^\d+$/.test(text) || BigInt(text) > MAX_INT64
        ? "ERR value is not an integer or out of range"
        : BigInt(text) > MAX_INT64 - BigInt(Math.trunc(now))
        ? "ERR invalid expire time in 'set' command"
        : undefined
      if (invalid !== undefined) return new JobStoreError({ message: `Redis command failed: ${invalid}` })
      return Effect.sync(() => {
        state.heartbeats.set(info.id, { value, expiresAt: now + px })
      })
    })

  const removeHeartbeat = (workerId: string) => Effect.sync(() => void state.heartbeats.delete(workerId))

  /** The heartbeats not yet expired, parsed back from their JSON, by id (as the Redis store sorts them). */
  const workers = Effect.map(Clock.currentTimeMillis, (now) => {
    const infos: Array<WorkerInfo> = []
    for (const id of [...state.heartbeats.keys()]) {
      const beat = live(state.heartbeats, id, now)
      if (beat !== undefined) infos.push(JSON.parse(beat.value) as WorkerInfo)
    }
    return infos.sort((a, b) => a.id.localeCompare(b.id))
  })

  // --- test hooks ---

  const unsafeSetRecord = (queue: string, id: string, record: Record<string, string> | "not-a-hash" | undefined) =>
    Effect.sync(() => {
      const q = queueState(queue)
      // an empty hash does not exist in Redis
      if (record === undefined || (typeof record === "object" && Object.keys(record).length === 0)) {
        q.records.delete(id)
      } else if (record === "not-a-hash") {
        q.records.set(id, { type: "string", value: record, expiresAt: undefined })
      } else {
        q.records.set(id, { type: "hash", fields: new Map(Object.entries(record)), expiresAt: undefined })
      }
    })

  const unsafeAddPending = (queue: string, id: string, runAt: number) =>
    Effect.sync(() => {
      const q = queueState(queue)
      q.pending.set(id, runAt)
      // waking idle workers is always harmless: they just claim
      signalWork(q)
    })

  const store: MemoryStore = {
    enqueue,
    claim,
    complete,
    retry,
    fail,
    requeue,
    extend,
    recover,
    cancel,
    getJob,
    listJobs,
    dlqRequeue,
    dlqPurge,
    dlqPreview,
    dlqByFunction,
    stats,
    queues,
    stalledQueues,
    onWake,
    finishedSignal,
    onCancel,
    heartbeat,
    removeHeartbeat,
    workers,
    unsafeSetRecord,
    unsafeAddPending
  }
  return store
})

