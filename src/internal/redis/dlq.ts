/**
 * The Redis store's DLQ bulk operations: each a loop of bounded script calls
 * (`lua/dlq-requeue.lua`, `dlq-purge.lua`, `dlq-scan.lua`), chunked by `../dlqChunks.ts`
 * like the memory store's, so that no call blocks Redis for long.
 */
import * as Effect from "effect/Effect"
import type { DlqFilter, JobStoreShape } from "../../JobStore.js"
import * as DlqChunks from "../dlqChunks.js"
import type { RedisCtx } from "./context.js"

export const make = (
  { run, settings }: RedisCtx
): Pick<JobStoreShape, "dlqRequeue" | "dlqPurge" | "dlqPreview" | "dlqByFunction"> => {
  /** A DLQ bulk operation: one bounded chunk per call of the script, until done (DlqChunks.loop). */
  const dlqLoop = <A>(
    queue: string,
    filter: DlqFilter,
    name: "dlq-requeue" | "dlq-purge" | "dlq-scan",
    head: (limit: number) => ReadonlyArray<string | number>
  ) =>
    DlqChunks.loop(filter, (call) =>
      Effect.map(
        run(name, queue, [...head(call.limit), ...DlqChunks.args(call)]),
        (raw) => DlqChunks.reply<A>(raw as Array<unknown>)
      ))

  const dlqRequeue: JobStoreShape["dlqRequeue"] = (queue, filter) =>
    dlqLoop<string>(queue, filter, "dlq-requeue", (limit) => [settings.uniqueLockTtlMs, limit, filter.functionName ?? ""])

  const dlqPurge: JobStoreShape["dlqPurge"] = (queue, filter) =>
    Effect.map(dlqLoop<string>(queue, filter, "dlq-purge", (limit) => [limit, filter.functionName ?? ""]), (ids) => ids.length)

  const dlqPreview: JobStoreShape["dlqPreview"] = (queue, filter, action) =>
    dlqLoop<string>(queue, filter, "dlq-scan", (limit) => [action, limit, filter.functionName ?? ""])

  const dlqByFunction: JobStoreShape["dlqByFunction"] = (queue) =>
    Effect.map(dlqLoop<string | number>(queue, {}, "dlq-scan", () => ["count", 0, ""]), DlqChunks.byFunction)

  return { dlqRequeue, dlqPurge, dlqPreview, dlqByFunction }
}
