/**
 * What a scrape reads, and the HTTP endpoint serving it: `/metrics` (Prometheus text),
 * `/healthz` (every claim loop of the process runs) and `/readyz` (Redis answers, no worker
 * stopping). node:http, not @effect/platform: the endpoint runs inside the app's process on
 * the app's copy of Effect, and must not make every app install an HTTP stack (docs/monitoring.md).
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { MetricsServerError } from "../../Errors.js"
import type { JobStoreShape, QueueStats } from "../../JobStore.js"
import { messageOf } from "../errorText.js"
import * as LiveWorkers from "./liveWorkers.js"
import * as ProcessFigures from "./processFigures.js"
import { counter, type Family, gauge, registryFamilies, render } from "./prometheus.js"

export interface ScrapeOptions {
  /** The queues whose depth to export: by default those of this process's workers, or (with no worker) every known queue. */
  readonly queues?: ReadonlyArray<string> | undefined
}

/** The queues' depths and oldest ready job, read from the store at scrape time. */
export const queueFamilies = (store: JobStoreShape, options: ScrapeOptions): Effect.Effect<Array<Family>> =>
  Effect.gen(function*() {
    const fromWorkers = [...new Set(LiveWorkers.all().flatMap((w) => w.queues))]
    const queues = options.queues ?? (fromWorkers.length > 0 ? fromWorkers : yield* store.queues)
    const stats: ReadonlyArray<QueueStats> = yield* Effect.forEach(queues, (q) => store.stats(q), { concurrency: 16 })
    const depth = stats.flatMap((s) =>
      (["ready", "delayed", "active", "dlq"] as const).map((state) => ({
        labels: [["queue", s.queue], ["state", state]] as const,
        value: s[state]
      }))
    )
    return [
      gauge("rrq_queue_jobs", "Jobs in a queue, by state", depth),
      gauge(
        "rrq_queue_oldest_ready_age_seconds",
        "How long the oldest ready job has been due (0 when none is ready): the backlog's age",
        stats.map((s) => ({ labels: [["queue", s.queue]] as const, value: (s.oldestReadyAgeMs ?? 0) / 1000 }))
      ),
      gauge("rrq_queue_paused", "1 while the queue is paused (rrq queue pause), else 0", stats.map((s) => ({
        labels: [["queue", s.queue]] as const,
        value: s.paused ? 1 : 0
      }))),
      gauge("rrq_redis_up", "Whether the scrape could read the queues from Redis", [{ labels: [], value: 1 }])
    ]
  }).pipe(
    Effect.catchAll(() =>
      Effect.succeed([gauge("rrq_redis_up", "Whether the scrape could read the queues from Redis", [{ labels: [], value: 0 }])])
    )
  )

/** This process's workers and figures. */
export const processFamilies = (): Array<Family> => {
  const workers = LiveWorkers.all()
  const p = ProcessFigures.read()
  return [
    gauge("rrq_worker_slots", "Jobs a worker runs at once (its concurrency)", workers.map((w) => ({ labels: [["worker", w.id]], value: w.slots }))),
    gauge("rrq_worker_active", "Jobs a worker runs now", workers.map((w) => ({ labels: [["worker", w.id]], value: w.active() }))),
    counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds", [{ labels: [], value: p.cpuSeconds }]),
    gauge("process_resident_memory_bytes", "Resident memory size, in bytes", [{ labels: [], value: p.rssBytes }]),
    gauge("process_start_time_seconds", "Start time of the process since the epoch, in seconds", [{ labels: [], value: p.startTime }]),
    gauge("nodejs_eventloop_lag_p99_seconds", "p99 of the event loop's delay over the last 10 s", [{ labels: [], value: p.eventLoopLagP99Seconds }])
  ]
}

/** What an endpoint serves: the families of a scrape, and the two probes. */
export interface Source {
  readonly families: Effect.Effect<ReadonlyArray<Family>>
  readonly healthy: Effect.Effect<boolean>
  readonly ready: Effect.Effect<boolean>
}

/** This process's registry and figures (without the queues: a supervisor adds its children's). */
export const processOnly = (): Array<Family> => [...registryFamilies(), ...processFamilies()]

/** This process: its metrics, its workers' probes, and the queues read from `store`. */
export const local = (store: JobStoreShape, options: ScrapeOptions = {}): Source => ({
  families: Effect.map(queueFamilies(store, options), (queues) => [...processOnly(), ...queues]),
  // every claim loop runs (true with no worker: the process is up)
  healthy: Effect.sync(() => LiveWorkers.all().every((w) => w.alive())),
  // no worker stopping or in a Redis outage; with no worker, the store answers
  ready: Effect.suspend(() => {
    const workers = LiveWorkers.all()
    if (workers.length > 0) return Effect.succeed(workers.every((w) => w.ready()))
    return store.queues.pipe(Effect.as(true), Effect.timeout(2_000), Effect.orElseSucceed(() => false))
  })
})

/** One scrape of this process as Prometheus text. */
export const text = (store: JobStoreShape, options: ScrapeOptions = {}): Effect.Effect<string> =>
  Effect.map(local(store, options).families, render)

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void

/** A node:http handler for the three paths (404 otherwise), to mount in an app's own server. */
export const handler = (source: Source): Effect.Effect<NodeHandler> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const run = Runtime.runPromise(runtime)
    const reply = (res: ServerResponse, status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" })
      res.end(body)
    }
    const probe = (res: ServerResponse, check: Effect.Effect<boolean>, failed: string) =>
      run(check).then((ok) => (ok ? reply(res, 200, "ok\n") : reply(res, 503, `${failed}\n`)), (e) => reply(res, 503, `${messageOf(e)}\n`))
    return (req, res) => {
      const path = (req.url ?? "/").split("?")[0]
      if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, "method not allowed\n")
      if (path === "/metrics") {
        run(Effect.map(source.families, render)).then(
          (body) => reply(res, 200, body, "text/plain; version=0.0.4; charset=utf-8"),
          (e) => reply(res, 500, `${messageOf(e)}\n`)
        )
      } else if (path === "/healthz") {
        probe(res, source.healthy, "a claim loop is not running")
      } else if (path === "/readyz") {
        probe(res, source.ready, "not ready: Redis unreachable, or a worker stopping")
      } else {
        reply(res, 404, "not found: /metrics, /healthz, /readyz\n")
      }
    }
  })

/** Serves the handler on `host:port` until the scope closes; returns the port (0 picks one). */
export const serve = (
  handle: NodeHandler,
  port: number,
  host = "0.0.0.0"
): Effect.Effect<number, MetricsServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>, MetricsServerError>((resume) => {
      const server = createServer(handle)
      server.once("error", (e) =>
        resume(Effect.fail(new MetricsServerError({ message: `metrics endpoint on ${host}:${port}: ${messageOf(e)}`, cause: e }))))
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  ).pipe(Effect.map((server) => (server.address() as AddressInfo).port))
