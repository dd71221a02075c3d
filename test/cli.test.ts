/**
 * The real `rrq` binary, run as a subprocess against the harness Redis. Each
 * test uses its own key prefix (RRQ_KEY_PREFIX).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { redisUrl, uniquePrefix } from "./support/index.js"

const BIN = resolve("bin/rrq.js")
const SRC = resolve("dist/index.js")

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const env = (prefix: string, extra: Record<string, string> = {}) => ({
  ...process.env,
  RRQ_REDIS_URL: redisUrl(),
  RRQ_KEY_PREFIX: prefix,
  ...extra
})

const rrq = (prefix: string, args: ReadonlyArray<string>, extra: Record<string, string> = {}): Promise<Result> =>
  new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { env: env(prefix, extra), timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0
      done({ code, stdout, stderr })
    })
  })

const start = (prefix: string, args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, [BIN, ...args], { env: env(prefix), stdio: ["ignore", "pipe", "pipe"] })

const exited = (child: ChildProcess) =>
  new Promise<number>((done) => {
    if (child.exitCode !== null) return done(child.exitCode)
    child.once("exit", (code) => done(code ?? 1))
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(200)
  }
}

const dir = mkdtempSync(join(tmpdir(), "rrq-cli-"))
writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n')

/** A TypeScript settings file using defineConfig. */
const tsSettings = join(dir, "rrq.config.ts")
writeFileSync(
  tsSettings,
  `import { defineConfig, Handler } from ${JSON.stringify(SRC)}
export default defineConfig({
  handlers: {
    add: async ({ a, b }: { a: number; b: number }) => a + b,
    boom: () => { throw new Error("kaboom") },
    sleep: Handler.make({}, async ({ ms }: { ms: number }) => { await new Promise((r) => setTimeout(r, ms)); return ms })
  },
  settings: { retryBaseMs: 10, shutdownGraceMs: 500, leaseMs: 3000, recoverIntervalMs: 500 }
})
`
)
/** A plain .mjs settings file: no defineConfig, plain async functions. */
const mjsSettings = join(dir, "plain.mjs")
writeFileSync(mjsSettings, `export default { handlers: { shout: async ({ s }) => s.toUpperCase() } }\n`)

const stats = async (prefix: string) => JSON.parse((await rrq(prefix, ["queue", "stats", "--json", "--queue", "default"])).stdout)

describe("rrq CLI", () => {
  it("enqueues, runs a burst worker, and shows the completed job as JSON", async () => {
    const p = uniquePrefix("cli")
    const enq = await rrq(p, ["job", "enqueue", "add", "--params", '{"a":2,"b":3}', "--json"])
    expect(enq.code).toBe(0)
    const { id, queue, created } = JSON.parse(enq.stdout)
    expect({ queue, created }).toEqual({ queue: "default", created: true })
    const run = await rrq(p, ["worker", "run", "--settings", tsSettings, "--burst", "--json"])
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toMatchObject({ completed: 1, failed: 0 })
    const show = await rrq(p, ["job", "show", id, "--json"])
    expect(JSON.parse(show.stdout)).toMatchObject({ id, status: "COMPLETED", result: 5, functionName: "add", currentRetries: 0 })
    const result = await rrq(p, ["job", "result", id])
    expect(result.stdout.trim()).toBe("5")
    expect(await stats(p)).toEqual({ queue: "default", ready: 0, delayed: 0, active: 0, dlq: 0, completedTotal: 1, failedTotal: 0, paused: false })
  }, 60_000)

  it("runs plain .mjs settings files and RRQ_SETTINGS", async () => {
    const p = uniquePrefix("cli")
    const { stdout } = await rrq(p, ["job", "enqueue", "shout", "--params", '{"s":"hi"}'])
    const run = await rrq(p, ["worker", "run", "--burst"], { RRQ_SETTINGS: mjsSettings })
    expect(run.code, run.stderr).toBe(0)
    expect((await rrq(p, ["job", "result", stdout.trim(), "--json"])).stdout).toContain('"result":"HI"')
  }, 60_000)

  it("rejects bad usage with one clear line and exit code 2, before anything starts", async () => {
    const p = uniquePrefix("cli")
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [["worker", "run", "--settings", tsSettings, "--burst", "--num-workers", "2"], "--burst cannot be combined"],
      [["worker", "run", "--settings", tsSettings, "--num-workers", "0"], "--num-workers: must be at least 1, got 0"],
      [["worker", "run", "--settings", tsSettings, "--concurrency", "0"], "--concurrency: must be at least 1, got 0"],
      [["worker", "run", "--settings", tsSettings, "--concurrency", "abc"], "--concurrency: 'abc' is not an integer"],
      [["worker", "run", "--settings", tsSettings, "--queue", "emails,x"], "invalid queue weight"],
      [["worker", "run", "--settings", tsSettings, "--queue", "a{b}"], "invalid queue name"],
      [["worker", "run", "--settings", join(dir, "missing.ts")], "settings file not found"],
      [["worker", "run"], "--settings FILE (or RRQ_SETTINGS) is required"],
      [["job", "enqueue", "x", "--defer-by", "1s", "--defer-until", "2030-01-01T00:00:00Z"], "cannot be combined"],
      [["job", "enqueue", "x", "--params", "{not json"], "--params is not valid JSON"],
      [["job", "enqueue", "x", "--defer-by", "soon"], "--defer-by"],
      [["dlq", "requeue"], "needs a filter"]
    ]
    const results = await Promise.all(cases.map(([args]) => rrq(p, args)))
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain(cases[i]![1])
    })
    expect(await stats(p)).toMatchObject({ ready: 0, delayed: 0 })
  }, 60_000)

  it("integer flags and --interval: a bad value names its flag, exit code 2", async () => {
    const p = uniquePrefix("cli")
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [["queue", "inspect", "q", "--limit", "abc"], "--limit: 'abc' is not an integer"],
      [["job", "list", "--limit", "1.5"], "--limit: '1.5' is not an integer"],
      [["dlq", "list", "--limit", "0"], "--limit: must be at least 1, got 0"],
      [["dlq", "requeue", "--limit", "ten"], "--limit: 'ten' is not an integer"],
      [["dlq", "purge", "--limit", "-1"], "--limit: must be at least 1, got -1"],
      [["job", "enqueue", "x", "--max-retries", "abc"], "--max-retries: 'abc' is not an integer"],
      [["check", "--min-workers", "x"], "--min-workers: 'x' is not an integer"],
      [["queue", "stats", "--interval", "1"], "--interval: must be at least 100ms (e.g. 1s)"],
      [["queue", "stats", "--watch", "--interval", "50ms"], "--interval: must be at least 100ms (e.g. 1s)"],
      [["queue", "stats", "--interval", "often"], "--interval: invalid duration 'often'"],
      [["job", "enqueue", "x", "--timeout", "soon"], "--timeout: invalid duration 'soon'"]
    ]
    const results = await Promise.all(cases.map(([args]) => rrq(p, args)))
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain(cases[i]![1])
    })
    // valid values still work
    expect((await rrq(p, ["queue", "inspect", "q", "--limit", "3", "--json"])).code).toBe(0)
    expect((await rrq(p, ["check", "--min-workers", "0"])).code).toBe(0)
    expect(await stats(p)).toMatchObject({ ready: 0, delayed: 0 })
  }, 60_000)

  it("refuses a Redis URL that is not redis:// or rediss:// (flag, RRQ_REDIS_URL, settings file), exit code 2", async () => {
    const p = uniquePrefix("cli")
    const badUrl = join(dir, "bad-url.mjs")
    writeFileSync(badUrl, `export default { handlers: { a: () => 1 }, settings: { redisUrl: "http://x" } }\n`)
    const [flag, env, file] = await Promise.all([
      rrq(p, ["queue", "list", "--redis-url", "http://localhost:6379"]),
      rrq(p, ["queue", "list"], { RRQ_REDIS_URL: "localhost:6379" }),
      rrq(p, ["worker", "run", "--burst", "--settings", badUrl], { RRQ_REDIS_URL: "" })
    ])
    for (const r of [flag, env, file]) {
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain("redisUrl must be a redis:// or rediss:// URL")
    }
    const unknown = await rrq(p, ["queue", "list"], { RRQ_UNKNOWN_FUNCTION: "skip" })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknownFunction must be 'fail' or 'retry'")
  }, 60_000)

  it("refuses unknown top-level keys and mistyped settings in a settings file, naming them", async () => {
    const p = uniquePrefix("cli")
    const write = (name: string, body: string) => {
      const file = join(dir, name)
      writeFileSync(file, body)
      return file
    }
    const cases: Array<[string, string]> = [
      [
        write("typo-handler.mjs", "export default { handler: { a: () => 1 } }\n"),
        "unknown key 'handler' in its default export (allowed: handlers, settings, queues, layer)"
      ],
      [
        write("typo-setting.mjs", "export default { handlers: { a: () => 1 }, setting: { concurrency: 2 } }\n"),
        "unknown key 'setting' in its default export (allowed: handlers, settings, queues, layer)"
      ],
      [
        write("typo-both.mjs", "export default { handlers: {}, setting: {}, queue: [] }\n"),
        "unknown keys 'setting', 'queue'"
      ],
      [
        write("wrong-type.mjs", "export default { handlers: { a: () => 1 }, settings: { concurrency: \"5\" } }\n"),
        "concurrency must be a number, got the string '5'"
      ]
    ]
    const results = await Promise.all(cases.map(([file]) => rrq(p, ["worker", "run", "--burst", "--settings", file])))
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0]}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain(cases[i]![1])
    })
  }, 60_000)

  it("FailJob and RetryJob from a second copy of rrq (or plain objects) are recognised by _tag", async () => {
    const p = uniquePrefix("cli")
    // a second copy of the package, as a settings file importing it by another path would load
    const copy = mkdtempSync(join(tmpdir(), "rrq-copy-"))
    cpSync(resolve("dist"), join(copy, "dist"), { recursive: true })
    writeFileSync(join(copy, "package.json"), '{ "type": "module" }\n')
    symlinkSync(resolve("node_modules"), join(copy, "node_modules"))
    mkdirSync(join(copy, "app"))
    const file = join(copy, "app", "rrq.config.mjs")
    writeFileSync(
      file,
      `import { FailJob, RetryJob } from ${JSON.stringify(join(copy, "dist/index.js"))}
export default {
  handlers: {
    failCopy: () => { throw new FailJob({ reason: "from the copy" }) },
    failPlain: async () => { throw { _tag: "FailJob", reason: "plain object" } },
    retryCopy: (_, ctx) => { if (ctx.attempt === 1) throw new RetryJob({ delay: 0, reason: "once more" }); return ctx.attempt }
  },
  settings: { retryBaseMs: 60000 }
}
`
    )
    const ids = await Promise.all(["failCopy", "failPlain", "retryCopy"].map(async (fn) =>
      (await rrq(p, ["job", "enqueue", fn, "--max-retries", "5"])).stdout.trim()
    ))
    // retryBaseMs is a minute: only RetryJob's own delay (0) lets retryCopy run twice in one burst
    const run = await rrq(p, ["worker", "run", "--burst", "--settings", file])
    expect(run.code, run.stderr).toBe(0)
    const show = async (id: string) => JSON.parse((await rrq(p, ["job", "show", id, "--json"])).stdout)
    expect(await show(ids[0]!)).toMatchObject({ status: "FAILED", currentRetries: 1, lastError: "from the copy" })
    expect(await show(ids[1]!)).toMatchObject({ status: "FAILED", currentRetries: 1, lastError: "plain object" })
    expect(await show(ids[2]!)).toMatchObject({ status: "COMPLETED", currentRetries: 1, result: 2, lastError: "once more" })
  }, 60_000)

  it("reports settings files without a default export or without handlers", async () => {
    const p = uniquePrefix("cli")
    const noDefault = join(dir, "nodefault.mjs")
    writeFileSync(noDefault, "export const handlers = {}\n")
    const noHandlers = join(dir, "nohandlers.mjs")
    writeFileSync(noHandlers, "export default { settings: {} }\n")
    const [a, b] = await Promise.all([
      rrq(p, ["worker", "run", "--settings", noDefault]),
      rrq(p, ["worker", "run", "--settings", noHandlers])
    ])
    expect([a.code, b.code]).toEqual([2, 2])
    expect(a.stderr).toContain("has no default export")
    expect(b.stderr).toContain("has no `handlers` object")
  }, 60_000)

  it("enqueues an NDJSON params file in batches", async () => {
    const p = uniquePrefix("cli")
    const file = join(dir, `params-${p}.ndjson`)
    writeFileSync(file, Array.from({ length: 2_500 }, (_, i) => JSON.stringify({ a: i, b: 1 })).join("\n") + "\n")
    const r = await rrq(p, ["job", "enqueue", "add", "--params-file", file, "--json"])
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(lines).toHaveLength(2_500)
    expect(new Set(lines.map((l) => l.id)).size).toBe(2_500)
    expect((await stats(p)).ready).toBe(2_500)
  }, 60_000)

  it("dlq requeue resets retries; dlq list shows the reason", async () => {
    const p = uniquePrefix("cli")
    const id = (await rrq(p, ["job", "enqueue", "boom", "--max-retries", "2"])).stdout.trim()
    await rrq(p, ["worker", "run", "--settings", tsSettings, "--burst"])
    // a burst worker stops while the retry waits out its backoff: run until the job is dead
    await until("the job to reach the DLQ", async () => {
      await rrq(p, ["worker", "run", "--settings", tsSettings, "--burst"])
      return (await stats(p)).dlq === 1
    })
    const list = await rrq(p, ["dlq", "list", "--json"])
    expect(JSON.parse(list.stdout.trim())).toMatchObject({ id, status: "FAILED", currentRetries: 2 })
    expect(list.stdout).toContain("kaboom")
    const dry = await rrq(p, ["dlq", "requeue", "--function", "boom", "--dry-run", "--json"])
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, requeued: 1 })
    expect((await stats(p)).dlq).toBe(1)
    const requeue = await rrq(p, ["dlq", "requeue", "--function", "boom", "--json"])
    expect(JSON.parse(requeue.stdout)).toMatchObject({ dryRun: false, requeued: 1, jobs: [{ queue: "default", id }] })
    expect(JSON.parse((await rrq(p, ["job", "show", id, "--json"])).stdout)).toMatchObject({ status: "PENDING", currentRetries: 0 })
  }, 90_000)

  it("check exits 1 with no live worker and 0 with one", async () => {
    const p = uniquePrefix("cli")
    const none = await rrq(p, ["check"])
    expect(none.code).toBe(1)
    expect(none.stderr).toContain("0 live worker(s)")
    const worker = start(p, ["worker", "run", "--settings", tsSettings, "--queue", "default", "--queue", "other,2"])
    try {
      await until("a heartbeat", async () => (await rrq(p, ["check"])).code === 0)
      const ok = await rrq(p, ["check", "--json"])
      const body = JSON.parse(ok.stdout)
      expect(body.ok).toBe(true)
      expect(body.workers[0]).toMatchObject({ pid: worker.pid, queues: ["default", "other"], status: "running" })
      expect((await rrq(p, ["check", "--min-workers", "2"])).code).toBe(1)
    } finally {
      worker.kill("SIGTERM")
      expect(await exited(worker)).toBe(0)
    }
  }, 60_000)

  it("--num-workers 2: a child killed with SIGKILL is restarted and every job completes", async () => {
    const p = uniquePrefix("cli")
    const file = join(dir, `sleep-${p}.ndjson`)
    writeFileSync(file, Array.from({ length: 60 }, () => '{"ms":100}').join("\n"))
    await rrq(p, ["job", "enqueue", "sleep", "--params-file", file])
    const parent = start(p, ["worker", "run", "--settings", tsSettings, "--num-workers", "2", "--concurrency", "2"])
    try {
      let pids: Array<number> = []
      await until("two workers", async () => {
        const r = await rrq(p, ["check", "--json"])
        pids = r.code === 0 ? JSON.parse(r.stdout).workers.map((w: { pid: number }) => w.pid) : []
        return pids.length === 2
      })
      process.kill(pids[0]!, "SIGKILL")
      await until("a replacement worker", async () => {
        const r = await rrq(p, ["check", "--json"])
        const now: Array<number> = r.code === 0 ? JSON.parse(r.stdout).workers.map((w: { pid: number }) => w.pid) : []
        return now.some((pid) => !pids.includes(pid))
      })
      // the killed child's jobs come back after its lease (3 s) expires
      await until("all jobs completed", async () => (await stats(p)).completedTotal === 60, 45_000)
      expect(await stats(p)).toMatchObject({ ready: 0, active: 0, dlq: 0, completedTotal: 60 })
    } finally {
      parent.kill("SIGTERM")
      expect(await exited(parent)).toBe(0)
    }
  }, 90_000)

  it("SIGTERM to the parent stops all children within the grace and requeues running jobs", async () => {
    const p = uniquePrefix("cli")
    const file = join(dir, `long-${p}.ndjson`)
    writeFileSync(file, Array.from({ length: 4 }, () => '{"ms":60000}').join("\n"))
    await rrq(p, ["job", "enqueue", "sleep", "--params-file", file])
    const parent = start(p, ["worker", "run", "--settings", tsSettings, "--num-workers", "2", "--concurrency", "2"])
    let pids: Array<number> = []
    await until("4 running jobs", async () => (await stats(p)).active === 4)
    const r = await rrq(p, ["check", "--json"])
    pids = JSON.parse(r.stdout).workers.map((w: { pid: number }) => w.pid)
    const stoppedAt = Date.now()
    parent.kill("SIGTERM")
    expect(await exited(parent)).toBe(0)
    expect(Date.now() - stoppedAt).toBeLessThan(5_000)
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
    expect(await stats(p)).toMatchObject({ ready: 4, active: 0, dlq: 0 })
    const jobs = (await rrq(p, ["job", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(jobs.map((j) => [j.status, j.currentRetries])).toEqual(Array.from({ length: 4 }, () => ["PENDING", 0]))
  }, 90_000)

  it("worker watch restarts the worker when a file changes", async () => {
    const p = uniquePrefix("cli")
    const watched = mkdtempSync(join(tmpdir(), "rrq-watch-"))
    const watcher = start(p, ["worker", "watch", "--settings", tsSettings, "--path", watched])
    let stderr = ""
    watcher.stderr?.on("data", (d) => (stderr += d))
    try {
      const pids = async () => {
        const r = await rrq(p, ["check", "--json"])
        return r.code === 0 ? JSON.parse(r.stdout).workers.map((w: { pid: number }) => w.pid) as Array<number> : []
      }
      let first: Array<number> = []
      await until("the first worker", async () => (first = await pids()).length === 1)
      writeFileSync(join(watched, "handler.ts"), "export const changed = 1\n")
      await until("a restarted worker", async () => (await pids()).some((pid) => !first.includes(pid)), 40_000)
      expect(stderr).toContain("changed; restarting the worker")
      expect(() => process.kill(first[0]!, 0)).toThrow()
    } finally {
      watcher.kill("SIGTERM")
      expect(await exited(watcher)).toBe(0)
    }
  }, 90_000)
})
