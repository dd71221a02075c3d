/** Worker heartbeats on Redis: a `worker:<id>` string key (JSON, with a TTL) per live worker. */
import * as Effect from "effect/Effect"
import type { JobStoreShape, WorkerInfo } from "../../JobStore.js"
import type { RedisCtx } from "./context.js"

export const make = (
  { keys, use }: RedisCtx
): Pick<JobStoreShape, "heartbeat" | "removeHeartbeat" | "workers"> => {
  const heartbeat: JobStoreShape["heartbeat"] = (info, ttlMs) =>
    use((r) => r.set(keys.worker(info.id), JSON.stringify(info), "PX", Math.max(1, Math.round(ttlMs)))).pipe(
      Effect.asVoid
    )

  const removeHeartbeat: JobStoreShape["removeHeartbeat"] = (id) =>
    use((r) => r.del(keys.worker(id))).pipe(Effect.asVoid)

  const workers: JobStoreShape["workers"] = Effect.gen(function*() {
    const found = new Set<string>()
    let cursor = "0"
    do {
      const [next, batch] = yield* use((r) => r.scan(cursor, "MATCH", keys.workerPattern, "COUNT", 1000))
      for (const k of batch) found.add(k)
      cursor = next
    } while (cursor !== "0")
    if (found.size === 0) return []
    const values = yield* use((r) => r.mget(...found))
    const infos: Array<WorkerInfo> = []
    for (const v of values) {
      if (!v) continue
      try {
        infos.push(JSON.parse(v) as WorkerInfo)
      } catch {
        // a heartbeat that is not JSON is ignored; it expires on its own
      }
    }
    return infos.sort((a, b) => a.id.localeCompare(b.id))
  })

  return { heartbeat, removeHeartbeat, workers }
}
