/**
 * Metrics and the health endpoints against a real Redis: a scrape after a run with
 * completions, retries, failures and a timeout adds up to what happened, promtool accepts
 * the exposition, a real Prometheus scrapes it, and /readyz follows Redis going away.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { RrqClient } from "../src/Client.js"
import { FailJob } from "../src/Errors.js"
import * as Handler from "../src/Handler.js"
import * as Metrics from "../src/Metrics.js"
import * as Worker from "../src/Worker.js"
import { clientLayer, privateRedis, uniquePrefix } from "./support/index.js"
import { promtoolCheck, sample, startPrometheus } from "./support/prometheus.js"
import { freePort, startRedis } from "./support/redisServer.js"

const fast = { retryBaseMs: 10, retryMaxMs: 20, pollDelayMs: 20, recoverIntervalMs: 100, shutdownGraceMs: 1_000 }

const get = (port: number, path: string) =>
  Effect.promise(() => fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.text() })))

const handlers = {
  ok: () => 1,
  flaky: Handler.make({ maxRetries: 3 }, (_: unknown, ctx) => {
    if (ctx.attempt === 1) throw new Error("first attempt fails")
    return 2
  }),
  final: () => Effect.fail(new FailJob({ reason: "no such account" })),
  slow: Handler.make({ timeout: "100 millis" }, () => Effect.sleep("5 seconds")),
  typed: Handler.make({ params: Schema.Struct({ n: Schema.Number }) }, ({ n }) => n)
}

describe("metrics", () => {
  it.scopedLive("a scrape after a run adds up to what happened, and promtool accepts it", () =>
    Effect.gen(function*() {
      const queue = uniquePrefix("q")
      const client = yield* RrqClient
      const refs = [
        ...yield* Effect.forEach(Array.from({ length: 10 }), () => client.enqueue("ok", {}, { queue })),
        ...yield* Effect.forEach(Array.from({ length: 3 }), () => client.enqueue("flaky", {}, { queue })),
        ...yield* Effect.forEach(Array.from({ length: 2 }), () => client.enqueue("final", {}, { queue })),
        yield* client.enqueue("slow", {}, { queue }),
        yield* client.enqueue("typed", { n: "not a number" }, { queue }),
        yield* client.enqueue("nobody", {}, { queue })
      ]
      const worker = yield* Worker.make({ handlers, queues: [queue], concurrency: 4 })
      yield* Effect.forEach(refs, (r) => Effect.either(client.waitForResult(r, { timeout: "10 seconds" })))
      const port = yield* Metrics.serve({ port: 0, host: "127.0.0.1" })
      const { body, status } = yield* get(port, "/metrics")
      expect(status).toBe(200)

      const check = promtoolCheck(body)
      expect(check, body).toEqual({ status: 0, output: "" })

      const of = (name: string, labels: Record<string, string> = {}) => sample(body, name, { queue, ...labels })
      expect(of("rrq_jobs_enqueued_total", { function: "ok" })).toBe(10)
      expect(of("rrq_jobs_enqueued_total", { function: "flaky" })).toBe(3)
      expect(of("rrq_jobs_started_total", { function: "ok" })).toBe(10)
      expect(of("rrq_jobs_started_total", { function: "flaky" })).toBe(6)
      expect(of("rrq_jobs_completed_total", { function: "ok" })).toBe(10)
      expect(of("rrq_jobs_completed_total", { function: "flaky" })).toBe(3)
      expect(of("rrq_jobs_retried_total", { function: "flaky" })).toBe(3)
      expect(of("rrq_jobs_failed_total", { function: "final", reason: "error" })).toBe(2)
      expect(of("rrq_jobs_failed_total", { function: "slow", reason: "timeout" })).toBe(1)
      expect(of("rrq_jobs_failed_total", { function: "typed", reason: "invalid_params" })).toBe(1)
      expect(of("rrq_jobs_failed_total", { function: "nobody", reason: "no_handler" })).toBe(1)
      expect(of("rrq_job_duration_seconds_count", { function: "ok" })).toBe(10)
      // each attempt's wait from due to claimed (retries wait from their backoff's end)
      expect(of("rrq_job_wait_seconds_count", { function: "flaky" })).toBe(6)
      expect(of("rrq_job_wait_seconds_bucket", { function: "ok", le: "+Inf" })).toBe(10)
      expect(of("rrq_job_wait_seconds_sum", { function: "ok" })).toBeLessThan(10 * 5)
      expect(of("rrq_job_duration_seconds_bucket", { function: "slow", le: "+Inf" })).toBe(1)
      expect(of("rrq_job_duration_seconds_bucket", { function: "slow", le: "0.05" })).toBe(0)
      // every claim that found work, as a histogram of batch sizes: the jobs add up to the attempts
      expect(of("rrq_claim_batch_size_sum")).toBe(10 + 6 + 2 + 1 + 1 + 1)
      expect(of("rrq_queue_jobs", { state: "dlq" })).toBe(2 + 1 + 1 + 1)
      expect(of("rrq_queue_jobs", { state: "ready" })).toBe(0)
      expect(of("rrq_queue_jobs", { state: "active" })).toBe(0)
      expect(of("rrq_queue_oldest_ready_age_seconds")).toBe(0)
      expect(sample(body, "rrq_worker_slots", { worker: worker.id })).toBe(4)
      expect(sample(body, "rrq_worker_active", { worker: worker.id })).toBe(0)
      expect(sample(body, "rrq_redis_up")).toBe(1)
      expect(sample(body, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000)
      expect((yield* get(port, "/healthz")).status).toBe(200)
      expect((yield* get(port, "/readyz")).status).toBe(200)
      expect((yield* get(port, "/nope")).status).toBe(404)
      // every family of rrq's (and the process's) is in docs/monitoring.md's table
      const documented = new Set([...readFileSync("docs/monitoring.md", "utf8").matchAll(/^\| `([a-z0-9_:]+)` \|/gm)].map((m) => m[1]))
      const exported = [...body.matchAll(/^# TYPE ((?:rrq|process|nodejs)_\S+) /gm)].map((m) => m[1])
      expect(exported.length).toBeGreaterThan(15)
      expect(exported.filter((name) => !documented.has(name))).toEqual([])
    }).pipe(Effect.provide(clientLayer(fast))), 30_000)

  it.scopedLive("the oldest ready job's age is the backlog's age", () =>
    Effect.gen(function*() {
      const queue = uniquePrefix("q")
      const client = yield* RrqClient
      yield* client.enqueue("ok", {}, { queue })
      yield* Effect.sleep("300 millis")
      yield* client.enqueue("ok", {}, { queue })
      const text = yield* Metrics.text({ queues: [queue] })
      const age = sample(text, "rrq_queue_oldest_ready_age_seconds", { queue })!
      expect(age).toBeGreaterThanOrEqual(0.3)
      expect(age).toBeLessThan(5)
      expect(sample(text, "rrq_queue_jobs", { queue, state: "ready" })).toBe(2)
    }).pipe(Effect.provide(clientLayer(fast))), 30_000)

  it.scopedLive("a real Prometheus scrapes the endpoint and answers a PromQL query", () =>
    Effect.gen(function*() {
      const queue = uniquePrefix("q")
      const client = yield* RrqClient
      yield* Worker.make({ handlers, queues: [queue] })
      const refs = yield* Effect.forEach(Array.from({ length: 7 }), () => client.enqueue("ok", {}, { queue }))
      yield* Effect.forEach(refs, (r) => client.waitForResult(r, { timeout: "10 seconds" }))
      const port = yield* Metrics.serve({ port: 0, host: "127.0.0.1" })
      const prometheus = yield* Effect.acquireRelease(
        Effect.promise(() => startPrometheus(`127.0.0.1:${port}`)),
        (p) => Effect.promise(() => p.stop())
      )
      const promql = `sum by (queue) (rrq_jobs_completed_total{queue="${queue}"})`
      let result: Awaited<ReturnType<typeof prometheus.query>> = []
      for (let i = 0; i < 100 && result.length === 0; i++) {
        yield* Effect.sleep("200 millis")
        result = yield* Effect.promise(() => prometheus.query(promql))
      }
      expect(result.map((r) => [r.metric.queue, r.value[1]])).toEqual([[queue, "7"]])
      const up = yield* Effect.promise(() => prometheus.query(`up{job="rrq"}`))
      expect(up.map((r) => r.value[1])).toEqual(["1"])
    }).pipe(Effect.provide(clientLayer(fast))), 60_000)
})

describe("Metrics for library users", () => {
  it.scopedLive("layerPrometheus serves while the layer lives; handler mounts in an app's own node:http server", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      yield* Layer.build(Metrics.layerPrometheus({ port, host: "127.0.0.1" }))
      expect((yield* get(port, "/healthz")).status).toBe(200)
      expect((yield* get(port, "/metrics")).body).toMatch(/^# TYPE rrq_redis_up gauge$/m)
      // an app's server: its own routes, and rrq's three mounted under /ops
      const handle = yield* Metrics.handler()
      const server = createServer((req, res) => {
        if (req.url?.startsWith("/ops/")) {
          req.url = req.url.slice("/ops".length)
          return handle(req, res)
        }
        res.end("app")
      })
      const appPort = yield* Effect.acquireRelease(
        Effect.async<number>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))),
        () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      expect((yield* get(appPort, "/")).body).toBe("app")
      expect((yield* get(appPort, "/ops/readyz")).status).toBe(200)
      const scraped = yield* get(appPort, "/ops/metrics")
      expect(promtoolCheck(scraped.body)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(clientLayer(fast))), 30_000)

  it.scopedLive("a taken port is a MetricsServerError naming it", () =>
    Effect.gen(function*() {
      const port = yield* Metrics.serve({ port: 0, host: "127.0.0.1" })
      const error = yield* Effect.flip(Metrics.serve({ port, host: "127.0.0.1" }))
      expect(error._tag).toBe("MetricsServerError")
      expect(error.message).toContain(`127.0.0.1:${port}`)
    }).pipe(Effect.provide(clientLayer(fast))), 30_000)
})

describe("readiness", () => {
  const redis = privateRedis()

  it.scopedLive("/readyz is 503 while Redis is down and 200 once it is back; /healthz stays 200", () =>
    Effect.gen(function*() {
      const port = yield* Metrics.serve({ port: 0, host: "127.0.0.1" })
      yield* Worker.make({ handlers, queues: ["default"] })
      const readyz = () => Effect.map(get(port, "/readyz"), (r) => r.status)
      const until = (status: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 150; i++) {
            if ((yield* readyz()) === status) return true
            yield* Effect.sleep("100 millis")
          }
          return false
        })
      expect(yield* until(200)).toBe(true)
      const { port: redisPort } = redis.server
      yield* Effect.promise(() => redis.server.stop())
      expect(yield* until(503)).toBe(true)
      expect((yield* get(port, "/healthz")).status).toBe(200)
      redis.server = yield* Effect.promise(() => startRedis([], redisPort))
      expect(yield* until(200)).toBe(true)
    }).pipe(
      // the server starts in beforeAll: its URL is known when the test runs
      Effect.provide(Layer.unwrapEffect(Effect.sync(() => clientLayer({ ...fast, redisUrl: redis.server.url }))))
    ), 60_000)
})
