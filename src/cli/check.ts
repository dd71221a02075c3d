/** `rrq check`: lists live workers; exit 1 when fewer than `--min-workers` are alive. */
import { Command, Options } from "@effect/cli"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { JobStore } from "../JobStore.js"
import * as Common from "./common.js"

export const command = Command.make(
  "check",
  {
    minWorkers: Common.integer("min-workers", { min: 0 }).pipe(
      Options.withDescription("fail unless at least this many workers are alive"),
      Options.withDefault(1)
    ),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Common.withStore(o, Effect.gen(function*() {
      const workers = yield* (yield* JobStore).workers
      const now = yield* Clock.currentTimeMillis
      const ok = workers.length >= o.minWorkers
      if (o.json) {
        yield* Common.printJson({ ok, workers })
      } else if (workers.length > 0) {
        yield* Common.table(
          ["ID", "PID", "HOST", "QUEUES", "CONCURRENCY", "ACTIVE", "STATUS", "LAST BEAT"],
          workers.map((w) => [w.id, w.pid, w.host, w.queues.join(","), w.concurrency, w.active, w.status, `${((now - w.lastBeat) / 1000).toFixed(1)}s ago`])
        )
      }
      if (!ok) {
        return yield* new Common.CheckFailed({
          message: `${workers.length} live worker(s), expected at least ${o.minWorkers}`
        })
      }
      if (!o.json) yield* Common.print(`${workers.length} live worker(s)`)
    }))
).pipe(Command.withDescription("Health check: list live workers, exit 1 when none is alive"))
