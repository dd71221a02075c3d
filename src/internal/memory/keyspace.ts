/**
 * The memory store's model of the Redis keyspace of one queue: hashes of strings
 * (job records), sorted sets ordered as Redis orders them, string keys with TTLs,
 * and the Lua-compatibility helpers the script twins (`./scripts/`) need to behave
 * like `lua/*.lua` down to their quirks: WRONGTYPE, `tonumber`, `%.17g` number
 * text, `%q` quoting.
 *
 * Expiry is lazy, as in Redis: a key whose deadline the clock has reached is
 * purged when it is read. Times come from the caller (the script's `now`, taken
 * from Effect's Clock), so everything here works under TestClock.
 */

/** A `job:<id>` (or `corrupt:<id>`) key: a hash, or a string where damage put one. */
export type StoredKey =
  | { readonly type: "hash"; readonly fields: Map<string, string>; expiresAt: number | undefined }
  | { readonly type: "string"; readonly value: string; expiresAt: number | undefined }

/** A string key with an optional expiry (unique locks, idempotency keys, heartbeats). */
export interface Timed {
  readonly value: string
  expiresAt: number | undefined
}

/** A sorted set: member → score. Ordered on read, like ZRANGE. */
export type ZSet = Map<string, number>

export type ZEntry = readonly [member: string, score: number]

/** The keys of one queue (`rrq:{q}:…`). */
export interface QueueState {
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
  /** The `stats` hash. */
  completedTotal: number
  failedTotal: number
  /** The `paused` key. */
  paused: boolean
}

export const emptyQueue = (name: string, prefix: string): QueueState => ({
  name,
  prefix,
  records: new Map(),
  corrupt: new Map(),
  pending: new Map(),
  active: new Map(),
  dlq: new Map(),
  uniqueLocks: new Map(),
  uniqueWaiting: new Map(),
  idempotency: new Map(),
  completedTotal: 0,
  failedTotal: 0,
  paused: false
})

/** Replaces a job record, without expiry: a hash of these fields, a string key, or nothing. */
export const putRecord = (
  q: QueueState,
  id: string,
  record: Record<string, string> | "not-a-hash" | undefined
): void => {
  // an empty hash does not exist in Redis
  if (record === undefined || (typeof record === "object" && Object.keys(record).length === 0)) {
    q.records.delete(id)
  } else if (record === "not-a-hash") {
    q.records.set(id, { type: "string", value: record, expiresAt: undefined })
  } else {
    q.records.set(id, { type: "hash", fields: new Map(Object.entries(record)), expiresAt: undefined })
  }
}

/** Where a command runs: one queue's keys at the script's single `now`. */
export interface At {
  readonly q: QueueState
  readonly now: number
}

/** A Redis command error inside a script; the store turns it into `JobStoreError`. */
export class ScriptError extends Error {}

export const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

// --- TTLs ---

/** A key lives `ttl` ms: gone once the clock reaches its deadline (TestClock-friendly). */
const isExpired = (entry: { readonly expiresAt: number | undefined }, now: number) =>
  entry.expiresAt !== undefined && entry.expiresAt <= now

/** Reads a key, purging it first when it has expired (Redis' lazy expiry). */
export const live = <V extends { readonly expiresAt: number | undefined }>(
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
export const deadline = (now: number, ttl: number): number | undefined => (ttl > 0 ? now + ttl : undefined)

// --- sorted sets ---

/** Redis orders members with equal scores bytewise (memcmp of UTF-8), not by UTF-16 code units. */
export const compareMembers = (a: string, b: string): number => {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  let i = 0
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++
  if (i === n) return a.length - b.length
  // UTF-8 order is code point order: surrogates (D800–DFFF) sort above E000–FFFF
  const fix = (c: number) => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c)
  return fix(a.charCodeAt(i)) - fix(b.charCodeAt(i))
}

/** ZRANGE order: by score, then member. */
export const byScore = (a: ZEntry, b: ZEntry): number => a[1] - b[1] || compareMembers(a[0], b[0])

/** ZRANGE key 0 -1 WITHSCORES. */
export const zsorted = (z: ZSet): Array<ZEntry> => [...z].sort(byScore)

/** ZRANGEBYSCORE key -inf max LIMIT 0 count (a negative count means no limit). */
export const zrangeByScore = (z: ZSet, max: number, count: number): Array<ZEntry> => {
  const hits = [...z].filter(([, score]) => score <= max).sort(byScore)
  return count < 0 ? hits : hits.slice(0, count)
}

/** ZRANGE key 0 0 WITHSCORES. */
export const zfirst = (z: ZSet): ZEntry | undefined => {
  let best: ZEntry | undefined
  for (const entry of z) if (best === undefined || byScore(entry, best) < 0) best = entry
  return best
}

/** Index ranges as ZRANGE/ZREVRANGE read them: negative indexes count from the end. */
export const indexRange = <A>(xs: ReadonlyArray<A>, start: number, stop: number): Array<A> => {
  const n = xs.length
  let s = start < 0 ? n + start : start
  const e = Math.min(stop < 0 ? n + stop : stop, n - 1)
  if (s < 0) s = 0
  return s > e || s >= n ? [] : xs.slice(s, e + 1)
}

// --- Lua compatibility ---

/**
 * Lua's `tonumber` on a stored field, `undefined` for nil or text that is not a
 * number. Close enough to strtod for what rrq writes and for rejecting garbage.
 */
export const luaToNumber = (s: string | undefined): number | undefined => {
  const t = s?.trim()
  if (t === undefined || t === "") return undefined
  const n = Number(t)
  return Number.isNaN(n) ? undefined : n
}

/**
 * A Lua number written with HSET, as Redis formats it (`%.17g`). A finite value is
 * written as `String` would (Redis' text may differ in its last digits but reads back
 * as the same number); inf, -inf and nan keep Lua's spelling.
 */
export const luaNumberString = (n: number): string =>
  Number.isNaN(n) ? "nan" : n === Infinity ? "inf" : n === -Infinity ? "-inf" : String(n)

/** Lua's `string.format('%q', s)`, used in the quarantine reason. */
export const luaQuote = (s: string): string =>
  `"${s.replace(/["\\\n\r\0]/g, (c) => (c === "\r" ? "\\r" : c === "\0" ? "\\000" : `\\${c}`))}"`

/** Arguments reach the scripts as strings, so an empty string means "not given". */
export const given = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

// --- Redis commands on a job record (`job:<id>`) ---

/** TYPE */
export const keyType = (at: At, id: string): "none" | StoredKey["type"] =>
  live(at.q.records, id, at.now)?.type ?? "none"

/** The fields of a hash record; WRONGTYPE when the key holds something else (HGET, HMGET...). */
export const hash = (at: At, id: string): Map<string, string> | undefined => {
  const stored = live(at.q.records, id, at.now)
  if (stored === undefined) return undefined
  if (stored.type !== "hash") throw new ScriptError(WRONGTYPE)
  return stored.fields
}

/** HGET */
export const hget = (at: At, id: string, field: string): string | undefined => hash(at, id)?.get(field)

/** HSET, creating the hash (without expiry) when absent. Numbers are written as decimal strings. */
export const hset = (at: At, id: string, fields: Readonly<Record<string, string | number>>): void => {
  let h = hash(at, id)
  if (h === undefined) {
    h = new Map()
    at.q.records.set(id, { type: "hash", fields: h, expiresAt: undefined })
  }
  for (const [field, value] of Object.entries(fields)) h.set(field, String(value))
}

/** HDEL; like Redis, a hash left empty disappears. */
export const hdel = (at: At, id: string, ...fields: ReadonlyArray<string>): void => {
  const h = hash(at, id)
  if (h === undefined) return
  for (const field of fields) h.delete(field)
  if (h.size === 0) at.q.records.delete(id)
}
