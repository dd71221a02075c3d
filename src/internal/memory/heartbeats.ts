/** Worker heartbeats in memory: the `worker:<id>` string keys with a TTL (plain commands in the Redis store). */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { JobStoreError } from "../../Errors.js"
import type { WorkerInfo } from "../../JobStore.js"
import { live, type Timed } from "./keyspace.js"

const MAX_INT64 = 2n ** 63n - 1n

/** The error Redis answers `SET … PX <px>` with at `now`, if any: PX must be a 64-bit integer, and now + PX must not overflow. */
const invalidPx = (text: string, now: number): string | undefined =>
  !/^\d+$/.test(text) || BigInt(text) > MAX_INT64
    ? "ERR value is not an integer or out of range"
    : BigInt(text) > MAX_INT64 - BigInt(Math.trunc(now))
    ? "ERR invalid expire time in 'set' command"
    : undefined

export const make = () => {
  const beats = new Map<string, Timed>()

  /** SET worker:<id> <json> PX max(1, round(ttlMs)); the PX reaches Redis as text. */
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
      const invalid = invalidPx(String(px), now)
      if (invalid !== undefined) return new JobStoreError({ message: `Redis command failed: ${invalid}` })
      return Effect.sync(() => {
        beats.set(info.id, { value, expiresAt: now + px })
      })
    })

  const removeHeartbeat = (workerId: string) => Effect.sync(() => void beats.delete(workerId))

  /** The heartbeats not yet expired, parsed back from their JSON, by id (as the Redis store sorts them). */
  const workers = Effect.map(Clock.currentTimeMillis, (now) => {
    const infos: Array<WorkerInfo> = []
    for (const id of [...beats.keys()]) {
      const beat = live(beats, id, now)
      if (beat !== undefined) infos.push(JSON.parse(beat.value) as WorkerInfo)
    }
    return infos.sort((a, b) => a.id.localeCompare(b.id))
  })

  return { heartbeat, removeHeartbeat, workers }
}
