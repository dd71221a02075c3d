/**
 * The metrics endpoint of the real `rrq` binary: `worker run --metrics-port` in one process,
 * the supervisor's single endpoint for `--num-workers 2` (its children's counters summed,
 * their process figures apart), and `rrq metrics serve` for a deployment without workers.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { Redis as IORedis } from "ioredis"
import { afterAll, describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"
import { promtoolCheck, sample } from "./support/prometheus.js"
import { freePort } from "./support/redisServer.js"

const BIN = resolve("bin/rrq.js")
const dir = mkdtempSync(join(tmpdir(), "rrq-metrics-cli-"))
const settings = join(dir, "rrq.config.mjs")
writeFileSync(
  settings,
  `import { defineConfig } from ${JSON.stringify(resolve("dist/index.js"))}
export default defineConfig({ handlers: { add: async ({ a, b }) => a + b, boom: () => { throw new Error("kaboom") } }, settings: { retryBaseMs: 10 } })
`
)

const children: Array<ChildProcess> = []
afterAll(() => children.forEach((c) => c.kill("SIGKILL")))

const start = (prefix: string, args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (d) => (output += String(d)))
  child.stderr!.on("data", (d) => (output += String(d)))
  children.push(child)
  return { child, output: () => output }
}

const scrape = (port: number, path = "/metrics") =>
  fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => ({ status: r.status, body: await r.text() }), () => ({ status: 0, body: "" }))

const until = async <A>(what: string, f: () => Promise<A | undefined>, ms = 30_000): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const a = await f()
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return child.exitCode
  child.kill("SIGTERM")
  return new Promise<number | null>((r) => child.once("exit", (code) => r(code)))
}

/** Enqueues through the CLI's own store, the way a producer would. */
const enqueue = async (prefix: string, functionName: string, params: unknown, n: number) => {
  const { Effect, Layer } = await import("effect")
  const Client = await import("../src/Client.js")
  const { redisStoreLayer } = await import("./support/index.js")
  await Effect.runPromise(
    Effect.flatMap(Client.RrqClient, (c) =>
      c.enqueueMany(Array.from({ length: n }, () => ({ job: functionName, params })))).pipe(
        Effect.provide(Client.layer.pipe(Layer.provideMerge(redisStoreLayer({ keyPrefix: prefix }))))
      )
  )
}

describe("rrq worker run --metrics-port", () => {
  it("serves /metrics, /healthz and /readyz from the worker process", async () => {
    const prefix = uniquePrefix("m1")
    const port = await freePort()
    const w = start(prefix, ["worker", "run", "--settings", settings, "--metrics-port", String(port), "--metrics-host", "127.0.0.1"])
    await until("the endpoint", async () => ((await scrape(port, "/readyz")).status === 200 ? true : undefined))
    await enqueue(prefix, "add", { a: 1, b: 2 }, 25)
    const body = await until("25 completions", async () => {
      const { body } = await scrape(port)
      return sample(body, "rrq_jobs_completed_total", { queue: "default", function: "add" }) === 25 ? body : undefined
    })
    expect(promtoolCheck(body)).toEqual({ status: 0, output: "" })
    expect(sample(body, "rrq_jobs_started_total", { queue: "default", function: "add" })).toBe(25)
    expect((await scrape(port, "/healthz")).status).toBe(200)
    expect(await stop(w.child)).toBe(0)
  }, 60_000)

  it("with --num-workers 2, the supervisor serves one endpoint: counters summed, process figures by worker", async () => {
    const prefix = uniquePrefix("m2")
    const port = await freePort()
    const w = start(prefix, [
      "worker", "run", "--settings", settings, "--num-workers", "2", "--concurrency", "2",
      "--metrics-port", String(port), "--metrics-host", "127.0.0.1"
    ])
    await until("both children ready", async () => ((await scrape(port, "/readyz")).status === 200 ? true : undefined))
    await enqueue(prefix, "add", { a: 1, b: 2 }, 200)
    await enqueue(prefix, "boom", {}, 3)
    const body = await until("every outcome", async () => {
      const { body } = await scrape(port)
      const done = sample(body, "rrq_jobs_completed_total", { queue: "default", function: "add" })
      const failed = sample(body, "rrq_jobs_failed_total", { queue: "default", function: "boom", reason: "attempts" })
      return done === 200 && failed === 3 ? body : undefined
    })
    expect(promtoolCheck(body)).toEqual({ status: 0, output: "" })
    // both children ran jobs, and each has its own process figures
    const slots = [...body.matchAll(/^rrq_worker_slots\{worker="([^"]+)"\} (\d+)$/gm)]
    expect(slots.map((m) => m[2])).toEqual(["2", "2"])
    expect(sample(body, "process_resident_memory_bytes", { worker: "0" })).toBeGreaterThan(0)
    expect(sample(body, "process_resident_memory_bytes", { worker: "1" })).toBeGreaterThan(0)
    expect(sample(body, "rrq_supervisor_workers")).toBe(2)
    expect(sample(body, "rrq_supervisor_restarts_total")).toBe(0)
    expect(sample(body, "rrq_queue_jobs", { queue: "default", state: "dlq" })).toBe(3)
    expect((await scrape(port, "/healthz")).status).toBe(200)
    expect(await stop(w.child)).toBe(0)
  }, 90_000)
})

describe("rrq check", () => {
  const rrq = (prefix: string, args: ReadonlyArray<string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, RRQ_REDIS_URL: redisUrl(), RRQ_KEY_PREFIX: prefix },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => (stdout += String(d)))
      child.stderr.on("data", (d) => (stderr += String(d)))
      child.on("exit", (code) => done({ code: code ?? 1, stdout, stderr }))
    })

  it("shows each worker's process figures; --max-rss and --max-lag fail the check when exceeded", async () => {
    const prefix = uniquePrefix("m4")
    const w = start(prefix, ["worker", "run", "--settings", settings])
    const report = await until("a heartbeat", async () => {
      const r = await rrq(prefix, ["check", "--json"])
      return r.code === 0 ? JSON.parse(r.stdout) as { ok: boolean; workers: Array<{ process?: Record<string, number> }> } : undefined
    })
    expect(report.ok).toBe(true)
    const figures = report.workers[0]!.process!
    expect(figures.rssBytes).toBeGreaterThan(10_000_000)
    expect(figures).toMatchObject({ completed: 0, failed: 0, restarts: 0 })
    expect(Object.keys(figures).sort()).toEqual(
      ["completed", "cpuPercent", "eventLoopLagP99Ms", "failed", "restarts", "rssBytes", "uptimeSeconds"]
    )
    const table = await rrq(prefix, ["check"])
    expect(table.stdout).toMatch(/RSS\s+CPU\s+LAG P99/)
    const tooBig = await rrq(prefix, ["check", "--max-rss", "1MB"])
    expect(tooBig.code).toBe(1)
    expect(tooBig.stderr).toMatch(/RSS \d+MB over --max-rss 1MB/)
    const fine = await rrq(prefix, ["check", "--max-rss", "8GiB", "--max-lag", "10s"])
    expect(fine.code, fine.stderr).toBe(0)
    const bad = await rrq(prefix, ["check", "--max-rss", "lots"])
    expect(bad.code).toBe(2)
    expect(await stop(w.child)).toBe(0)
  }, 60_000)
})

describe("rrq metrics serve", () => {
  it("exports every known queue's depth and backlog age without a worker", async () => {
    const prefix = uniquePrefix("m3")
    await enqueue(prefix, "add", { a: 1, b: 2 }, 4)
    const admin = new IORedis(redisUrl())
    await admin.sadd(`${prefix}:queues`, "other")
    await admin.quit()
    const port = await freePort()
    const m = start(prefix, ["metrics", "serve", "--port", String(port), "--host", "127.0.0.1"])
    const { body } = await until("the endpoint", async () => {
      const r = await scrape(port)
      return r.status === 200 ? r : undefined
    })
    expect(promtoolCheck(body)).toEqual({ status: 0, output: "" })
    expect(sample(body, "rrq_queue_jobs", { queue: "default", state: "ready" })).toBe(4)
    expect(sample(body, "rrq_queue_jobs", { queue: "other", state: "ready" })).toBe(0)
    expect(sample(body, "rrq_queue_oldest_ready_age_seconds", { queue: "default" })).toBeGreaterThan(0)
    expect((await scrape(port, "/readyz")).status).toBe(200)
    expect(m.output()).toMatch(/rrq metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/)
    expect(await stop(m.child)).not.toBe(null)
  }, 60_000)
})
