/**
 * `rrq check`: lists live workers with their process figures; exit 1 when fewer than
 * `--min-workers` are alive, or (for container probes) when one is over `--max-lag` or `--max-rss`.
 */
import { Command, Options } from "@effect/cli"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { JobStore, type WorkerInfo } from "../JobStore.js"
import * as Common from "./common.js"

const UNITS: Record<string, number> = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }

/** `512MB`, `1.5GiB`, `300000000`: bytes. */
const parseBytes = (flag: string, text: string) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  return m && unit !== undefined
    ? Effect.succeed(Number(m[1]) * unit)
    : Effect.fail(new Common.UsageError({ message: `--${flag}: '${text}' is not a size (e.g. 512MB, 1GiB, or bytes)` }))
}

const mb = (bytes: number) => `${Math.round(bytes / 1e6)}MB`

/** What is wrong with a worker for the limits given, if anything. */
const overLimits = (w: WorkerInfo, maxLagMs: number | undefined, maxRssBytes: number | undefined): Array<string> => {
  const out: Array<string> = []
  const p = w.process
  if (maxLagMs !== undefined && p !== undefined && p.eventLoopLagP99Ms > maxLagMs) {
    out.push(`worker ${w.id}: event loop lag p99 ${p.eventLoopLagP99Ms}ms over --max-lag ${maxLagMs}ms`)
  }
  if (maxRssBytes !== undefined && p !== undefined && p.rssBytes > maxRssBytes) {
    out.push(`worker ${w.id}: RSS ${mb(p.rssBytes)} over --max-rss ${mb(maxRssBytes)}`)
  }
  return out
}

export const command = Command.make(
  "check",
  {
    minWorkers: Common.integer("min-workers", { min: 0 }).pipe(
      Options.withDescription("fail unless at least this many workers are alive"),
      Options.withDefault(1)
    ),
    maxLag: Options.text("max-lag").pipe(
      Options.withDescription("fail when a worker's event loop lag p99 is over this duration (e.g. 500ms)"),
      Options.optional
    ),
    maxRss: Options.text("max-rss").pipe(
      Options.withDescription("fail when a worker's resident memory is over this size (e.g. 512MB, 1GiB)"),
      Options.optional
    ),
    json: Common.json,
    redisUrl: Common.redisUrl
  },
  (o) =>
    Effect.gen(function*() {
      const maxLagMs = Option.isSome(o.maxLag) ? yield* Common.duration("max-lag", o.maxLag.value) : undefined
      const maxRssBytes = Option.isSome(o.maxRss) ? yield* parseBytes("max-rss", o.maxRss.value) : undefined
      yield* Common.withStore(o, Effect.gen(function*() {
        const workers = yield* (yield* JobStore).workers
        const now = yield* Clock.currentTimeMillis
        const problems = workers.flatMap((w) => overLimits(w, maxLagMs, maxRssBytes))
        if (workers.length < o.minWorkers) problems.unshift(`${workers.length} live worker(s), expected at least ${o.minWorkers}`)
        const ok = problems.length === 0
        if (o.json) {
          yield* Common.printJson({ ok, workers, problems })
        } else if (workers.length > 0) {
          const figure = (w: WorkerInfo, f: (p: NonNullable<WorkerInfo["process"]>) => string) => (w.process ? f(w.process) : "-")
          yield* Common.table(
            ["ID", "PID", "HOST", "QUEUES", "CONCURRENCY", "ACTIVE", "STATUS", "RSS", "CPU", "LAG P99", "DONE", "FAILED", "UPTIME", "RESTARTS", "LAST BEAT"],
            workers.map((w) => [
              w.id, w.pid, w.host, w.queues.join(","), w.concurrency, w.active, w.status,
              figure(w, (p) => mb(p.rssBytes)),
              figure(w, (p) => `${p.cpuPercent}%`),
              figure(w, (p) => `${p.eventLoopLagP99Ms}ms`),
              figure(w, (p) => String(p.completed)),
              figure(w, (p) => String(p.failed)),
              figure(w, (p) => `${p.uptimeSeconds}s`),
              figure(w, (p) => String(p.restarts)),
              `${((now - w.lastBeat) / 1000).toFixed(1)}s ago`
            ])
          )
        }
        if (!ok) return yield* new Common.CheckFailed({ message: problems.join("; ") })
        if (!o.json) yield* Common.print(`${workers.length} live worker(s)`)
      }))
    })
).pipe(Command.withDescription("Health check: list live workers and their figures; exit 1 when too few are alive or one is over a limit"))
