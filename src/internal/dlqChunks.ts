/**
 * DLQ bulk operations in bounded chunks (issue 11, defect 7): requeue, purge, their
 * dry runs and the count by function each run as a loop of short script calls
 * (lua/dlq-*.lua, `dlqChunk` in lua/include/common.lua) instead of one script over the
 * whole DLQ. Both stores run their chunk through this loop, so they cut the same chunks.
 */
import * as Effect from "effect/Effect"
import type { DlqFilter } from "../JobStore.js"

/**
 * DLQ entries one call looks at (or ids it takes). Measured on the project's 2-core
 * machine (Redis 7.0, SLOWLOG, bench/dlqBulk.ts): a requeue chunk of 500 takes about 8 ms
 * of Redis (longest 10.5 ms over 200,000 jobs), a purge chunk 4 ms, a dry-run or count
 * chunk 2 ms; requeue --all of 200,000 takes 2.6 s in all (docs/reliability.md, "Bulk operations").
 */
export const DLQ_CHUNK = 500

/**
 * Where a scan of the DLQ resumes, as the scripts pass it back and forth (their ARGV):
 * the horizon (failed-at in ms of the newest entry the operation covers, set by its first
 * call, "" before it) and the last entry seen that stayed in the DLQ ("" for none) with its score.
 */
export interface Cursor {
  readonly horizon: string
  readonly id: string
  readonly score: string
}

export const start: Cursor = { horizon: "", id: "", score: "" }

/** One call: the cursor, the ids of this slice (none: scan the DLQ), and how many more results are wanted (0: all). */
export interface Call {
  readonly cursor: Cursor
  readonly ids: ReadonlyArray<string>
  readonly limit: number
}

/** What one call found, and where the next one resumes (undefined: the scan is over). */
export interface Chunk<A> {
  readonly items: ReadonlyArray<A>
  readonly next: Cursor | undefined
}

/** The scripts' arguments for a call, after their own: chunk size, cursor, id count, ids. */
export const args = (call: Call): Array<string | number> => [
  DLQ_CHUNK,
  call.cursor.horizon,
  call.cursor.id,
  call.cursor.score,
  call.ids.length,
  ...call.ids
]

/** A script's reply: horizon, cursor id, cursor score, done (1|0), then the items. */
export const reply = <A>(raw: ReadonlyArray<unknown>): Chunk<A> => ({
  items: raw.slice(4) as ReadonlyArray<A>,
  next: Number(raw[3]) === 1 ? undefined : { horizon: String(raw[0]), id: String(raw[1]), score: String(raw[2]) }
})

/**
 * Runs `step` until the operation is done: over the filter's ids in slices of
 * DLQ_CHUNK, or over the DLQ until the scan ends; with a limit, until that many items.
 * Returns the items of every call, in order.
 */
export const loop = <A, E, R>(filter: DlqFilter, step: (call: Call) => Effect.Effect<Chunk<A>, E, R>) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    const limit = filter.limit ?? 0
    const wanted = () => (limit > 0 ? limit - items.length : 0)
    const more = () => limit <= 0 || items.length < limit
    const ids = filter.ids ?? []
    if (ids.length > 0) {
      for (let i = 0; i < ids.length && more(); i += DLQ_CHUNK) {
        const chunk = yield* step({ cursor: start, ids: ids.slice(i, i + DLQ_CHUNK), limit: wanted() })
        for (const item of chunk.items) items.push(item)
      }
      return items
    }
    let cursor: Cursor | undefined = start
    while (cursor !== undefined && more()) {
      const chunk: Chunk<A> = yield* step({ cursor, ids: [], limit: wanted() })
      for (const item of chunk.items) items.push(item)
      cursor = chunk.next
    }
    return items
  })

/** The count replies' (function name, count) pairs of every chunk, summed by name. */
export const byFunction = (pairs: ReadonlyArray<string | number>): Record<string, number> => {
  const counts = new Map<string, number>()
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = String(pairs[i])
    counts.set(name, (counts.get(name) ?? 0) + Number(pairs[i + 1]))
  }
  // from a Map, so a function named "constructor" or "__proto__" is counted like any other
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
